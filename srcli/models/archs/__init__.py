"""Every architecture module, imported once so it registers its models. One family per file."""

from srcli.models.archs import (  # noqa: F401
    a2n,
    awsrn,
    bicubic,
    carn,
    dan,
    drln,
    edsr,
    imdn,
    mdsr,
    msrn,
    pan,
    rcan,
)

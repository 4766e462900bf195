"""Every architecture module, imported once so it registers its models. One family per file."""

from srcli.models.archs import (  # noqa: F401
    a2n,
    awsrn,
    bicubic,
    carn,
    carn_m,
    dan,
    drln,
    edsr,
    imdn,
    mdsr,
    msrn,
    oisr,
    pan,
    rcan,
    slwsr,
)

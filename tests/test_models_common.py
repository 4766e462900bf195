"""Every registered model: output shapes, descriptor, safetensors round trip (tiny configs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from srcli.errors import UnknownModelError
from srcli.models import create_model, get_spec, list_models
from srcli.models.super_image import load_weights_strict

#: Per-family overrides that keep each architecture's wiring but make it tiny. A new family
#: must add an entry here (see test_every_family_has_a_tiny_config).
TINY: dict[str, dict[str, Any]] = {
    "bicubic": {},
    "dan": {"n_feats": 16, "n_blocks": 3, "distance": 2, "reduction": 4},
    "msrn": {"n_feats": 8, "n_blocks": 2, "reduction": 4},
    "mdsr": {"n_feats": 8, "n_resblocks": 2, "reduction": 4},
    "awsrn": {"n_feats": 8, "block_feats": 16, "n_resblocks": 2, "n_awru": 2, "reduction": 4},
    "carn": {"n_feats": 8, "reduction": 4},
    "carn-m": {"n_feats": 8, "reduction": 4},  # groups=4 still divides 8
    "s-lwsr": {"n_feats": 8, "reduction": 4},
    "oisr": {"n_feats": 8, "n_blocks": 1, "reduction": 4},
    "pan": {"nf": 8, "unf": 8, "nb": 2, "reduction": 4},
    "a2n": {"nf": 8, "unf": 8, "nb": 2},
    "drln": {"n_feats": 16, "reduction": 4},
    "rcan": {"n_feats": 8, "n_resgroups": 2, "n_resblocks": 2, "reduction": 4},
    "edsr": {"n_feats": 8, "n_resblocks": 2, "reduction": 4},
    "imdn": {"nf": 16, "num_modules": 2, "reduction": 4},
}

#: The public names issue 2 asks for.
REQUIRED = {
    "dan", "dan-gca0", "dan-gcas", "dan-leac",
    "msrn", "msrn-bam", "mdsr", "mdsr-bam", "awsrn", "awsrn-bam", "carn", "carn-bam",
    "pan", "pan-bam", "drln", "drln-bam", "rcan", "rcan-bam", "edsr-base", "a2n",
    "imdn", "imdn-bam", "edsr-bam",
    # issue 26: the rest of the BAM paper's Table 2 hosts
    "carn-m", "carn-m-bam", "s-lwsr32", "s-lwsr32-bam", "oisr-lf-s", "oisr-lf-s-bam",
    "oisr-lf", "oisr-lf-bam",
}

MODELS = list_models()
CASES = [(name, s) for name in MODELS for s in (2, 3, 4) if s in get_spec(name).scales]


def tiny(name: str, scale: int, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model(name, scale, **TINY[get_spec(name).family]).eval()


def test_required_names_are_registered() -> None:
    assert set(MODELS) >= REQUIRED, sorted(REQUIRED - set(MODELS))


def test_every_family_has_a_tiny_config() -> None:
    families = {get_spec(name).family for name in MODELS}
    assert families <= set(TINY), f"add tiny configs for {sorted(families - set(TINY))}"


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_output_shape_odd_non_square(name: str, scale: int) -> None:
    model = tiny(name, scale)
    x = torch.rand(2, 3, 7, 11)  # odd, non-square, batch of two
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 3, 7 * scale, 11 * scale)
    assert torch.isfinite(y).all()
    # Batch items are independent (no pooling across the batch).
    with torch.no_grad():
        y1 = model(x[1:])
    torch.testing.assert_close(y1, y[1:], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_descriptor(name: str, scale: int) -> None:
    model = tiny(name, scale)
    d = model.descriptor
    assert (d.name, d.scale, d.family) == (name, scale, get_spec(name).family)
    assert d.input_range == 1.0  # every model takes [0, 1] RGB, as super-image
    assert d.size_multiple == 1  # none of them needs padding
    assert d.receptive_radius >= 1
    assert model.config.scale == scale


@pytest.mark.parametrize(
    ("name", "pools"),
    [("msrn", False), ("msrn-bam", True), ("pan", False), ("pan-bam", True), ("rcan", True),
     ("drln", True), ("imdn", True), ("edsr-base", False), ("edsr-bam", True), ("a2n", True),
     ("carn", False), ("carn-bam", True), ("awsrn", False), ("awsrn-bam", True),
     ("carn-m", False), ("carn-m-bam", True), ("s-lwsr32", False), ("s-lwsr32-bam", True),
     ("oisr-lf-s", False), ("oisr-lf-bam", True)],
)
def test_global_pooling_flag(name: str, pools: bool) -> None:
    assert tiny(name, 2).descriptor.global_pooling is pools


def test_half_precision_flags() -> None:
    # RCAN runs on x - 255·mean (about -110): fp16/bf16 would lose the [0, 1] detail.
    assert not tiny("rcan-bam", 4).descriptor.supports_fp16
    assert not tiny("rcan", 4).descriptor.supports_bf16
    assert tiny("msrn-bam", 4).descriptor.supports_fp16


@pytest.mark.parametrize("name", MODELS)
def test_safetensors_round_trip(name: str, tmp_path: Path) -> None:
    scale = 2 if 2 in get_spec(name).scales else get_spec(name).scales[0]
    src = tiny(name, scale, seed=1)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    dst = tiny(name, scale, seed=2)
    loaded = load_file(str(path))
    assert set(loaded) == set(src.state_dict())
    load_weights_strict(dst, loaded, name)
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        assert torch.equal(src(x), dst(x))
    for key, value in dst.state_dict().items():
        assert torch.equal(value, src.state_dict()[key]), key


def test_model_names_accept_underscores_and_any_case() -> None:
    assert get_spec("RCAN_BAM") is get_spec("rcan-bam")


@pytest.mark.parametrize(("typed", "hint"), [
    ("bam", "BAM is an attention layer added to a host network: awsrn-bam, carn-bam"),
    ("edrs", "(did you mean 'edsr'?)"),
    ("imdnbam", "(did you mean 'imdn-bam'?)"),
])
def test_unknown_model_names_the_likely_intent(typed: str, hint: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        get_spec(typed)
    message = str(caught.value)
    assert hint in message and "\n" not in message and message.endswith(", ".join(MODELS[-2:]))


def test_unknown_model_without_a_near_name_lists_only_the_known() -> None:
    with pytest.raises(UnknownModelError, match=r"^unknown model 'esrgan'; known models: a2n"):
        get_spec("esrgan")


#: Hosts that BAM is inserted into (no attention of their own to replace): name-bam holds
#: exactly name's parameters plus its BAM blocks'.
BAM_INSERTED = ["carn", "carn-m", "edsr", "msrn", "mdsr", "awsrn", "s-lwsr32", "oisr-lf-s",
                "oisr-lf"]


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("host", BAM_INSERTED)
def test_bam_adds_exactly_the_bam_parameters(host: str, scale: int) -> None:
    from srcli.models import count_parameters
    from srcli.models.layers.attention import BAM

    with torch.device("meta"):  # default (paper-size) configs, shapes only
        base = create_model(host, scale)
        with_bam = create_model(f"{host}-bam", scale)
    blocks = [m for m in with_bam.modules() if isinstance(m, BAM)]
    assert blocks and not any(isinstance(m, BAM) for m in base.modules())
    added = sum(count_parameters(m) for m in blocks)
    assert count_parameters(with_bam) - count_parameters(base) == added

"""BAM hosts: parameter counts (BAM paper Tables 2-3, hub), the hub key/shape schema, BAM's
parameter formula, super-image forward conventions, and load_super_image's error handling."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import torch
from conftest import compat_schema
from torch import nn

from srcli.errors import WeightsError
from srcli.models import count_parameters, create_model, load_super_image
from srcli.models.layers.attention import BAM, MSAM, make_attention
from srcli.models.super_image import hub_config_to_srcli

# ------------------------------------------------------------------ BAM parameter formula


@pytest.mark.parametrize(("c", "r"), [(64, 16), (24, 8), (32, 8), (256, 16), (16, 16)])
def test_bam_parameter_formula(c: int, r: int) -> None:
    """BAM paper eq. 10-11: ACAM = C·C/r + C/r·C + C/r (PReLU slopes); MSAM = 7·7·1·1."""
    bam = BAM(c, r)
    hidden = c // r
    assert count_parameters(bam.ca) == 2 * c * hidden + hidden
    assert count_parameters(bam.sa) == 49
    assert count_parameters(bam) == 2 * c * hidden + hidden + 49
    # Starred ablations (eq. 12-13): ACAM* shares the MLP, MSAM* doubles the 7x7 input.
    assert count_parameters(BAM(c, r, channel_star=True)) == count_parameters(bam)
    assert count_parameters(BAM(c, r, spatial_star=True)) == count_parameters(bam) + 49


def test_msam_has_exactly_49_weights_and_no_bias() -> None:
    msam = MSAM()
    assert [(k, tuple(v.shape)) for k, v in msam.state_dict().items()] == [
        ("conv1.weight", (1, 1, 7, 7))
    ]


def test_bam_key_names_match_super_image() -> None:
    keys = [(k, tuple(v.shape)) for k, v in make_attention("bam", 64, 16).state_dict().items()]
    assert keys == [("ca.fc1.weight", (4, 64, 1, 1)), ("ca.relu1.weight", (4,)),
                    ("ca.fc2.weight", (64, 4, 1, 1)), ("sa.conv1.weight", (1, 1, 7, 7))]


# ------------------------------------------------------------------ parameter counts


def _params(name: str, scale: int, **overrides: Any) -> int:
    return _cached_params(name, scale, tuple(sorted(overrides.items())))


@cache
def _cached_params(name: str, scale: int, overrides: tuple[tuple[str, Any], ...]) -> int:
    with torch.device("meta"):  # shapes only: no memory, no init time
        return count_parameters(create_model(name, scale, **dict(overrides)))


#: BAM paper Table 3 (IMDN ablation), in K parameters, for x2, x3, x4.
TABLE3 = {
    "cca": (694.4, 703.1, 715.2), "acam": (694.0, 702.7, 714.8), "acam*": (694.0, 702.7, 714.8),
    "msam": (691.2, 699.9, 712.0), "msam*": (691.5, 700.2, 712.3),
    "bam": (694.3, 703.0, 715.1), "bam*": (694.6, 703.3, 715.4), "cbam": (694.6, 703.2, 715.4),
}


@pytest.mark.parametrize("attention", sorted(TABLE3))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_imdn_ablation_counts_match_table3(attention: str, scale: int) -> None:
    paper = TABLE3[attention][scale - 2]
    assert abs(_params("imdn", scale, attention=attention) / 1000 - paper) <= 0.2


@pytest.mark.parametrize(("scale", "imdn", "imdn_bam"),
                         [(2, 694_404, 694_314), (3, 703_059, 702_969), (4, 715_176, 715_086)])
def test_imdn_registered_counts(scale: int, imdn: int, imdn_bam: int) -> None:
    # Exact counts; the bar is Table 3 to ±0.2 K (694.4/694.3, 703.1/703.0, 715.2/715.1).
    assert _params("imdn", scale) == imdn
    assert _params("imdn-bam", scale) == imdn_bam
    assert abs(imdn / 1000 - TABLE3["cca"][scale - 2]) <= 0.2
    assert abs(imdn_bam / 1000 - TABLE3["bam"][scale - 2]) <= 0.2


@pytest.mark.parametrize(("scale", "edsr", "edsr_bam"),
                         [(2, 40729.6, 40737.9), (3, 43680.0, 43688.3), (4, 43089.9, 43098.2)])
def test_edsr_bam_counts_match_table2(scale: int, edsr: float, edsr_bam: float) -> None:
    assert abs(_params("edsr", scale) / 1000 - edsr) <= 0.2
    assert abs(_params("edsr-bam", scale) / 1000 - edsr_bam) <= 0.2
    assert _params("edsr-bam", scale) - _params("edsr", scale) == 2 * 256 * 16 + 16 + 49


#: compat/README.md "Parameter counts" table: full default (hub) configs, x2/x3/x4.
HUB_COUNTS = {
    "msrn-bam": (5_934_851, 6_119_491, 6_082_563), "msrn": (5_930_331, 6_114_971, 6_078_043),
    "mdsr-bam": (2_718_501, 2_903_141, 2_866_213), "mdsr": (2_699_291, 2_883_931, 2_847_003),
    "awsrn-bam": (1_397_181, 1_476_456, 1_587_441), "awsrn": (1_396_872, 1_476_147, 1_587_132),
    "carn-bam": (1_593_658,) * 3, "carn": (1_591_963,) * 3,
    "pan-bam": (260_999, 260_999, 271_611), "pan": (261_403, 261_403, 272_419),
    "a2n": (1_036_443, 1_036_443, 1_047_459),
    "drln-bam": (34_163_455, 34_348_095, 34_311_167),
    "drln": (34_430_155, 34_614_795, 34_577_867),
    "rcan-bam": (15_441_667, 15_626_307, 15_589_379),
    "rcan": (15_444_667, 15_629_307, 15_592_379),
    "edsr-base": (1_369_883, 1_554_523, 1_517_595),
}


@pytest.mark.parametrize("name", sorted(HUB_COUNTS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_default_configs_have_hub_parameter_counts(name: str, scale: int) -> None:
    assert _params(name, scale) == HUB_COUNTS[name][scale - 2]


# ------------------------------------------------------------------ hub key/shape schema


def _schema_cases() -> list[tuple[str, str]]:
    repos = [f"eugenesiow/{n}" for n in ("msrn-bam", "msrn", "mdsr-bam", "mdsr", "awsrn-bam",
                                          "carn-bam", "carn", "pan-bam", "pan", "a2n",
                                          "drln-bam", "drln", "rcan-bam", "edsr-base")]
    repos += ["(no hub repo in scope) awsrn bam=false", "(no hub repo in scope) rcan bam=false"]
    return [(repo, s) for repo in repos for s in ("2", "3", "4")]


def _hub_config(entry: dict[str, Any], scale: str) -> dict[str, Any]:
    # The two configs without a hub repo only have what super-image would write.
    return entry["hub_config_json"] or entry["scales"][scale]["super_image_written_config"]


@pytest.mark.parametrize(("repo", "scale"), _schema_cases())
def test_state_dict_equals_schema(repo: str, scale: str) -> None:
    """Names, order, shapes and dtypes of the state dict equal the hub checkpoints'."""
    entry = compat_schema()[repo]
    name, overrides = hub_config_to_srcli(_hub_config(entry, scale))
    with torch.device("meta"):
        model = create_model(name, int(scale), **overrides)
    ours = [(k, list(v.shape), str(v.dtype).replace("torch.", ""))
            for k, v in model.state_dict().items()]
    assert ours == [tuple(e) for e in entry["scales"][scale]["state_dict"]]
    assert count_parameters(model) == entry["scales"][scale]["total_elements"]


@pytest.mark.parametrize(("repo", "scale"), _schema_cases())
def test_load_super_image_accepts_schema(repo: str, scale: str) -> None:
    """A checkpoint with exactly the schema's keys loads through the public loader, with the
    `module.` prefix that data_parallel checkpoints (msrn-bam, edsr-base) carry."""
    entry = compat_schema()[repo]
    config = _hub_config(entry, scale)
    prefix = "module." if config.get("data_parallel") else ""
    with torch.device("meta"):
        state = {prefix + k: torch.empty(shape) for k, shape, _ in
                 entry["scales"][scale]["state_dict"]}
        model = load_super_image(config, state, int(scale))
    assert model.descriptor.scale == int(scale)
    assert not model.training


@pytest.mark.parametrize(
    ("repo", "expected"),
    [("eugenesiow/msrn-bam", "msrn-bam"), ("eugenesiow/msrn", "msrn"),
     ("eugenesiow/mdsr-bam", "mdsr-bam"), ("eugenesiow/awsrn-bam", "awsrn-bam"),
     ("eugenesiow/carn", "carn"), ("eugenesiow/pan-bam", "pan-bam"), ("eugenesiow/a2n", "a2n"),
     ("eugenesiow/drln", "drln"), ("eugenesiow/rcan-bam", "rcan-bam"),
     ("eugenesiow/edsr-base", "edsr-base")],
)
def test_hub_config_picks_the_registered_model(repo: str, expected: str) -> None:
    assert hub_config_to_srcli(compat_schema()[repo]["hub_config_json"])[0] == expected


# ------------------------------------------------------------------ loader errors


def _msrn_setup() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    config = {"model_type": "MSRN", "bam": True, "n_feats": 16, "n_blocks": 1}
    torch.manual_seed(0)
    return config, dict(create_model("msrn-bam", 2, n_feats=16, n_blocks=1).state_dict())


def _one_line_error(config: dict[str, Any], state: dict[str, Any]) -> str:
    with pytest.raises(WeightsError) as info:
        load_super_image(config, state, 2)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_key_is_a_weights_error() -> None:
    config, state = _msrn_setup()
    del state["body.0.attention.sa.conv1.weight"]
    assert "missing" in _one_line_error(config, state)


def test_unexpected_key_is_a_weights_error() -> None:
    config, state = _msrn_setup()
    state["body.0.extra.weight"] = torch.zeros(1)
    assert "body.0.extra.weight" in _one_line_error(config, state)


def test_shape_mismatch_is_a_weights_error() -> None:
    config, state = _msrn_setup()
    state["tail.3.weight"] = torch.zeros(3, 16, 5, 5)
    assert "tail.3.weight" in _one_line_error(config, state)


def test_bam_weights_into_a_non_bam_config_fail() -> None:
    config, state = _msrn_setup()
    assert "unexpected" in _one_line_error({**config, "bam": False}, state)


def test_unknown_or_missing_model_type() -> None:
    _, state = _msrn_setup()
    assert "SWINIR" in _one_line_error({"model_type": "SWINIR"}, state).upper()
    assert "model_type" in _one_line_error({}, state)


def test_weights_are_copied_and_module_prefix_stripped() -> None:
    config, state = _msrn_setup()
    model = load_super_image(config, {"module." + k: v for k, v in state.items()}, 2)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])


# ------------------------------------------------------------------ forward conventions


def _perturbed_output(model: nn.Module, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(1, 3, 6, 7, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(x)
        for key, value in model.state_dict().items():
            if key.startswith(prefix):
                value.add_(0.5)
        return before, model(x)


@pytest.mark.parametrize(
    ("name", "overrides", "prefix"),
    [("msrn-bam", {"n_feats": 8, "n_blocks": 1}, "sub_mean."),
     ("mdsr-bam", {"n_feats": 8, "n_resblocks": 1}, "add_mean."),
     ("edsr-base", {"n_feats": 8, "n_resblocks": 1}, "sub_mean."),
     ("carn-bam", {"n_feats": 8}, "upsample.up3."),
     ("carn", {"n_feats": 8}, "upsample.up4."),
     ("drln-bam", {"n_feats": 16}, "c4.")],
)
def test_documented_unused_tensors_do_not_affect_output(name: str, overrides: dict[str, Any],
                                                        prefix: str) -> None:
    before, after = _perturbed_output(create_model(name, 2, **overrides).eval(), prefix)
    assert torch.equal(before, after)


@pytest.mark.parametrize(
    ("name", "overrides", "prefix"),
    [("carn-bam", {"n_feats": 8}, "sub_mean."), ("rcan-bam", {"n_feats": 8, "n_resgroups": 1,
     "n_resblocks": 1}, "add_mean."), ("drln", {"n_feats": 16}, "sub_mean.shifter.")],
)
def test_applied_mean_shifts_affect_output(name: str, overrides: dict[str, Any],
                                           prefix: str) -> None:
    before, after = _perturbed_output(create_model(name, 2, **overrides).eval(), prefix)
    assert (before - after).abs().max() > 1e-3


def test_rcan_mean_shift_uses_range_255_on_unit_input() -> None:
    model = create_model("rcan-bam", 4, n_feats=8, n_resgroups=1, n_resblocks=1)
    bias = model.sub_mean.bias.detach()
    torch.testing.assert_close(bias, -255 * torch.tensor([0.4488, 0.4371, 0.4040]))

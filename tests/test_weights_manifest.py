"""The weights manifest: schema checks, agreement with compat/schema.json, bundled entries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import REPO, compat_schema
from safetensors.torch import save_file

from srcli.errors import WeightsError
from srcli.models import count_parameters, create_model, list_models
from srcli.models.pretrained import load_pretrained
from srcli.models.super_image import hub_config_to_srcli
from srcli.weights.manifest import (
    PACKAGE_MANIFEST,
    bundled_entry_from_sidecar,
    check_manifest,
    load_manifest,
    parse_manifest,
)
from srcli.weights.resolve import resolve_weights

HUB_REPOS = ["msrn-bam", "mdsr-bam", "awsrn-bam", "carn-bam", "pan-bam", "drln-bam", "rcan-bam",
             "msrn", "mdsr", "carn", "pan", "a2n", "drln", "edsr-base"]
#: Architectures the manifest may name (weights cannot import models; the caller passes them).
KNOWN = set(list_models())
TINY_DAN = {"n_feats": 8, "n_blocks": 2, "distance": 1, "reduction": 4}


def test_packaged_manifest_is_valid() -> None:
    # unique (model, scale), known architectures, bundled files present with their hash
    assert check_manifest(load_manifest(PACKAGE_MANIFEST), KNOWN) == []


def test_repository_copy_is_byte_identical() -> None:
    assert (REPO / "weights_manifest.json").read_bytes() == PACKAGE_MANIFEST.read_bytes()


def test_hub_entries_agree_with_the_compat_schema() -> None:
    schema = compat_schema()
    entries = [e for e in load_manifest(PACKAGE_MANIFEST).entries if e.hub is not None]
    assert sorted({e.model for e in entries}) == sorted(HUB_REPOS)
    for e in entries:
        repo = schema[e.hub.repo_id]
        scale = repo["scales"][str(e.scale)]
        assert scale["on_hub"], (e.model, e.scale)
        assert e.config == repo["hub_config_json"]
        assert e.hub.filename == repo["hub_weight_files"][str(e.scale)]
        assert hub_config_to_srcli(e.config)[0] == e.architecture
        # (test_models_bam checks that the srcli model has exactly these tensors)
        assert e.params == scale["total_parameters"]
        recorded = repo["hub_config_source"].split("/")[-2]
        expected = recorded if len(recorded) == 40 else "main"
        if e.hub.revision != expected:  # only where a stored hub page showed a later commit
            assert e.hub.revision[:7] in e.notes, (e.model, e.scale)
    on_hub = sum(s["on_hub"] for r in HUB_REPOS for s in schema[f"eugenesiow/{r}"]["scales"]
                 .values())
    assert len(entries) == on_hub == 40


def test_recorded_hashes_are_sha256() -> None:
    for e in load_manifest(PACKAGE_MANIFEST).entries:
        assert e.sha256 is None or (len(e.sha256) == 64 and int(e.sha256, 16) >= 0)
        assert e.sha256 is None or e.size is not None


def _write(tmp: Path, weights: list[dict[str, Any]], default: str = "dan") -> Path:
    path = tmp / "manifest.json"
    path.write_text(json.dumps({"schema": 1, "default_model": default, "weights": weights}))
    return path


def _tiny_dan_export(folder: Path, scale: int = 2,
                     degradation: str = "bi") -> tuple[Path, torch.nn.Module]:
    """What `srcli train export` leaves behind: safetensors + JSON sidecar."""
    torch.manual_seed(1 if degradation == "bi" else 2)
    model = create_model("dan", scale, **TINY_DAN).eval()
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "" if degradation == "bi" else f"_{degradation}"
    path = folder / f"dan_x{scale}{suffix}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"architecture": "dan", "scale": str(scale)})
    sidecar = {"architecture": "dan", "config": TINY_DAN, "scale": scale,
               "degradation": degradation,
               "params": count_parameters(model), "dtype": "float32", "weights": "ema",
               "training": {"iterations": 100, "patch": 48},
               "validation": {"it": 100, "psnr": 30.5}}
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path, model


def test_bundled_entry_from_sidecar_resolves_and_loads(tmp_path: Path) -> None:
    path, model = _tiny_dan_export(tmp_path / "bundled")
    entry = bundled_entry_from_sidecar(path, bundled_dir=tmp_path / "bundled")
    assert entry["bundled"] == "bundled/dan_x2.safetensors"
    assert entry["size"] == path.stat().st_size and len(entry["sha256"]) == 64
    assert entry["training"]["validation"]["psnr"] == 30.5
    manifest = load_manifest(_write(tmp_path, [entry]))
    assert check_manifest(manifest, KNOWN) == []
    resolved = resolve_weights("dan", 2, manifest=manifest)
    assert resolved.source == "bundled" and resolved.path == path
    loaded = load_pretrained("dan", 2, manifest=manifest)
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_weights_are_chosen_by_degradation(tmp_path: Path) -> None:
    bi, bi_model = _tiny_dan_export(tmp_path / "bundled", scale=3)
    bd, bd_model = _tiny_dan_export(tmp_path / "bundled", scale=3, degradation="bd")
    entries = [bundled_entry_from_sidecar(p, bundled_dir=tmp_path / "bundled") for p in (bi, bd)]
    manifest = load_manifest(_write(tmp_path, entries))
    assert check_manifest(manifest, KNOWN) == []  # same model and scale, different degradation
    assert resolve_weights("dan", 3, manifest=manifest).path == bi
    assert resolve_weights("dan", 3, degradation="bd", manifest=manifest).path == bd
    assert manifest.find("dan", 3, "bd").tag == "dan x3 BD"
    x = torch.rand(1, 3, 9, 8)
    with torch.no_grad():
        got = load_pretrained("dan", 3, degradation="bd", manifest=manifest)(x)
        assert torch.equal(got, bd_model(x)) and not torch.equal(got, bi_model(x))
    with pytest.raises(WeightsError, match=r"dan has no DN weights \(it has x3, x3-BD\)"):
        resolve_weights("dan", 3, degradation="dn", manifest=manifest)
    with pytest.raises(WeightsError, match="BD weights for x3 only, not x4"):
        resolve_weights("dan", 4, degradation="bd", manifest=manifest)


def test_tampered_or_missing_bundled_file_is_caught(tmp_path: Path) -> None:
    path, _ = _tiny_dan_export(tmp_path / "bundled")
    entry = bundled_entry_from_sidecar(path, bundled_dir=tmp_path / "bundled")
    manifest = load_manifest(_write(tmp_path, [entry]))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert any("sha256" in p for p in check_manifest(manifest, KNOWN))
    with pytest.raises(WeightsError, match="does not match its manifest sha256"):
        resolve_weights("dan", 2, manifest=manifest)
    path.unlink()
    assert any("missing" in p for p in check_manifest(manifest, KNOWN))
    with pytest.raises(WeightsError, match="missing from this installation"):
        resolve_weights("dan", 2, manifest=manifest)


def test_schema_problems_are_reported(tmp_path: Path) -> None:
    base = next(e for e in json.loads(PACKAGE_MANIFEST.read_text())["weights"]
                if e["model"] == "msrn-bam" and e["scale"] == 2)
    twice = parse_manifest({"schema": 1, "weights": [base, base]})
    assert check_manifest(twice, KNOWN) == ["msrn-bam x2: listed twice"]
    odd = dict(base, architecture="no-such-net", format="onnx", sha256="abc", hub=None)
    problems = check_manifest(parse_manifest({"schema": 1, "weights": [odd]}), KNOWN)
    assert len(problems) == 4
    # without the caller's architectures, everything but the architecture is still checked
    unchecked = check_manifest(parse_manifest({"schema": 1, "weights": [odd]}))
    assert len(unchecked) == 3 and not any("architecture" in p for p in unchecked)
    with pytest.raises(WeightsError, match="schema"):
        parse_manifest({"schema": 99, "weights": []})
    with pytest.raises(WeightsError, match="missing field 'scale'"):
        parse_manifest({"schema": 1, "weights": [{"model": "x"}]})


def test_default_model_without_bundled_weights_says_so(tmp_path: Path) -> None:
    manifest = load_manifest(_write(tmp_path, []))
    with pytest.raises(WeightsError) as info:
        resolve_weights("dan", 4, manifest=manifest)
    message = str(info.value)
    assert "not bundled" in message and "--model bicubic" in message and "\n" not in message


def test_other_scales_and_unknown_models(tmp_path: Path) -> None:
    manifest = load_manifest(PACKAGE_MANIFEST)
    with pytest.raises(WeightsError, match="for x4 only, not x2"):
        resolve_weights("rcan-bam", 2, manifest=manifest)
    with pytest.raises(WeightsError, match="no pretrained weights for 'imdn'"):
        resolve_weights("imdn", 2, manifest=manifest)


def test_explicit_srcli_weights_use_their_sidecar(tmp_path: Path) -> None:
    path, model = _tiny_dan_export(tmp_path / "export", scale=3)
    empty = load_manifest(_write(tmp_path, []))
    loaded = load_pretrained("dan", 3, weights=path, manifest=empty)
    assert loaded.weights_source.source == "explicit" and loaded.config.n_feats == 8
    x = torch.rand(1, 3, 7, 9)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    with pytest.raises(WeightsError, match="holds x3 weights, not x2"):
        plain = tmp_path / "plain"
        plain.mkdir()
        shutil.copy(path, plain / path.name)  # no sidecar: registry config, file says x3
        load_pretrained("dan", 2, weights=plain / path.name, manifest=empty)
    with pytest.raises(WeightsError, match="holds dan weights, not msrn"):
        load_pretrained("msrn", 3, weights=path, manifest=empty)


def test_add_entries_replaces_in_place_and_groups_by_model(tmp_path: Path) -> None:
    from srcli.weights.manifest import add_entries

    before = json.loads(PACKAGE_MANIFEST.read_text())["weights"]
    x3 = next(w for w in before if w["model"] == "dan" and w["scale"] == 3)
    bd = dict(x3, scale=4, degradation="bd")  # a key the manifest does not have
    out = tmp_path / "manifest.json"
    add_entries([dict(x3, notes="replaced"), bd], paths=[out])
    after = json.loads(out.read_text())["weights"]
    assert len(after) == len(before) + 1
    assert after.index(next(w for w in after if w.get("notes") == "replaced")) == before.index(x3)
    last_dan = max(i for i, w in enumerate(before) if w["model"] == "dan")
    assert (after[last_dan + 1]["scale"], after[last_dan + 1]["degradation"]) == (4, "bd")
    parse_manifest(json.loads(out.read_text()))  # still a valid manifest

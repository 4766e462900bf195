"""Reading weights files: safetensors, tensor-only pickles, and refusing everything else."""

from __future__ import annotations

import argparse
import os
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from srcli.errors import WeightsError
from srcli.weights.checkpoint import read_safetensors_metadata, read_state_dict, sniff_format


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"head.weight": torch.randn(4, 3, 3, 3, generator=g),
            "head.bias": torch.randn(4, generator=g)}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_safetensors_round_trip_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file(_tensors(), str(path), metadata={"architecture": "dan", "scale": "2"})
    assert _same(read_state_dict(path), _tensors())
    assert read_safetensors_metadata(path) == {"architecture": "dan", "scale": "2"}


@pytest.mark.parametrize("zipped", [True, False])
def test_tensor_only_pickle_loads(tmp_path: Path, zipped: bool) -> None:
    # super-image hub files are torch.save'd OrderedDicts of float32 tensors
    path = tmp_path / "pytorch_model_2x.pt"
    torch.save(OrderedDict(_tensors()), path, _use_new_zipfile_serialization=zipped)
    assert _same(read_state_dict(path), _tensors())


def test_wrapped_state_dict_is_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": _tensors(), "epoch": 3}, path)
    assert _same(read_state_dict(path), _tensors())


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "payload": _RunsCode(marker)}, path)
    with pytest.raises(WeightsError, match=r"refusing evil.pt: the pickle needs .*system"):
        read_state_dict(path)
    assert not marker.exists()


def test_pickle_with_a_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ns.pth"
    torch.save({"w": torch.zeros(2), "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(WeightsError, match="argparse.Namespace"):
        read_state_dict(path)


@pytest.mark.parametrize("payload", [[torch.zeros(2)], {"w": torch.zeros(2), "step": 3}])
def test_not_a_dict_of_tensors(tmp_path: Path, payload: object) -> None:
    path = tmp_path / "x.pt"
    torch.save(payload, path)
    with pytest.raises(WeightsError):
        read_state_dict(path)


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsError, match="not a readable PyTorch checkpoint"):
        read_state_dict(junk)
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        read_state_dict(bad)
    with pytest.raises(WeightsError, match="not found"):
        read_state_dict(tmp_path / "absent.safetensors")


def test_format_sniffed_from_content(tmp_path: Path) -> None:
    st = tmp_path / "weights.bin2"
    save_file(_tensors(), str(st))
    assert sniff_format(st) == "safetensors"
    assert _same(read_state_dict(st), _tensors())
    pk = tmp_path / "weights.data"
    torch.save(_tensors(), pk)
    assert sniff_format(pk) == "pickle"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(WeightsError, match="unknown weights format"):
        read_state_dict(other)

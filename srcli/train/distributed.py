"""Several processes, one run: torchrun's environment, the rank record, the stop signal every
rank agrees on, and the check that all replicas ended with the same weights.

Data parallel on CPUs (gloo) or CUDA GPUs (nccl); a plain single-process run uses none of the
collectives here (`Dist()` is rank 0 of a world of 1).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from srcli.devices import resolve_device


@dataclass
class Dist:
    """This process's place in the run (torchrun's RANK, WORLD_SIZE, LOCAL_RANK)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def launched_as_main() -> bool:
    """Rank 0 as torchrun set it, readable before the process group exists (for the checks
    and warnings that must appear once, not once per rank)."""
    return int(os.environ.get("RANK", "0")) == 0


def setup_distributed(device_kind: str) -> Dist:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(spec: str, local_rank: int) -> torch.device:
    """`--device` as upscale reads it; under torchrun a bare CUDA choice means this rank's GPU."""
    dev = resolve_device(spec)
    if dev.type == "cuda" and ":" not in spec:
        dev = torch.device("cuda", local_rank)
    return dev


def wrap(model: nn.Module, dd: Dist, device: torch.device) -> nn.Module:
    """The module the loop calls: DDP (gradients all-reduced in backward) when world > 1."""
    if dd.world <= 1:
        return model
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)


class StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint and returns cleanly."""

    def __init__(self) -> None:
        self.raised = False
        self.signum = 0  # the signal that stopped the run (agreed across ranks), 0 = none
        self._received = 0  # the signal this process got; only the handler writes it
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # signal() fails outside the main thread (e.g. a test runner thread): no handler.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self._received = self._received or signum
        if not dist.is_initialized() or dist.get_world_size() == 1:
            self.raised, self.signum = True, self._received

    def agree(self, dd: Dist, device: torch.device) -> bool:
        """True on every rank as soon as any rank was signalled (all must stop at the same
        iteration: a rank that stops alone leaves the others blocked in DDP's all-reduce).
        One tiny all-reduce per iteration; the largest signal number wins."""
        if dd.world > 1:
            # The handler writes `_received`, never the agreed result: a signal that lands
            # while this all-reduce is running is sent at the next iteration instead of being
            # overwritten by the peers' 0 (which left both ranks training on, about 1 run in 6).
            flag = torch.tensor([self._received], dtype=torch.int32, device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if int(flag.item()):
                self.signum, self.raised = int(flag.item()), True
        return self.raised

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def replicas_in_sync(model: nn.Module) -> bool:
    """True when every rank holds bit-identical weights (DDP's whole promise, checked)."""
    digest = hashlib.sha256()
    for t in model.state_dict().values():
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    gathered: list[str | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, digest.hexdigest())
    return len(set(gathered)) == 1


def shutdown() -> None:
    """Leave the process group together: every rank reaches teardown before gloo closes its
    pairs (a rank tearing down while its peer still wrote the log aborted 1 run in ~5)."""
    dist.barrier()
    dist.destroy_process_group()

"""Splitting one batch over the processes of a launcher: torchrun, SLURM's srun, or any that
sets RANK / WORLD_SIZE / LOCAL_RANK (and MASTER_ADDR / MASTER_PORT for the rendezvous).

Rank r takes items r, r + world, r + 2·world, ... of the sorted list (round robin, so files of
similar size spread evenly), runs on its local device (cuda:LOCAL_RANK when CUDA is there),
and with several ranks per machine takes its share of the CPU cores. Results travel to rank 0
over a gloo process group (small Python objects only, so gloo serves CPU and GPU runs alike)
and rank 0 reports for the whole batch. Without those variables it is one process, world 1,
and torch.distributed is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from srcli.errors import ConfigError

T = TypeVar("T")
#: Ranks wait for each other only at the end, and one rank's share may take hours.
GATHER_TIMEOUT = timedelta(days=2)


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    def take(self, items: Sequence[T]) -> list[T]:
        """This rank's items: r, r + world, ..."""
        return list(items[self.rank::self.world])

    def merge(self, parts: Sequence[Sequence[T]]) -> list[T]:
        """Undo `take`: per-rank lists (in rank order) back to the original order."""
        total = sum(len(p) for p in parts)
        return [parts[i % self.world][i // self.world] for i in range(total)]


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"{name}={env[name]!r} is not an integer") from None


def from_env(env: Mapping[str, str] | None = None) -> Shard:
    """The shard this process is, from torchrun's variables (or SLURM's, when MASTER_ADDR and
    MASTER_PORT are set for the rendezvous); one process otherwise."""
    env = os.environ if env is None else env
    if "RANK" in env and "WORLD_SIZE" in env:
        names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    elif "SLURM_PROCID" in env and "MASTER_ADDR" in env and "MASTER_PORT" in env:
        names = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE")
    else:
        return Shard()
    rank, world = _int(env, names[0]), _int(env, names[1]) if names[1] in env else 1
    local = _int(env, names[2]) if names[2] in env else 0
    local_world = _int(env, names[3]) if env.get(names[3], "").isdigit() else 1
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"rank {rank} is not within a world of {world} process(es)")
    return Shard(rank, world, local, max(local_world, local + 1))


def local_device(spec: str, shard: Shard) -> str:
    """`--device` for this rank: auto/cuda become cuda:LOCAL_RANK when CUDA is there."""
    if not shard.active or spec not in ("auto", "cuda"):
        return spec
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cuda:{shard.local_rank % count}" if count else spec


def local_threads(threads: int | None, shard: Shard) -> int | None:
    """Default CPU threads for a rank: the cores this process may use, shared among the
    ranks of its machine (torchrun does not divide them)."""
    if threads is not None or shard.local_world <= 1:
        return threads
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) // shard.local_world)


def init(shard: Shard) -> None:
    """Join the process group (gloo); a no-op for one process."""
    if not shard.active:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", rank=shard.rank, world_size=shard.world,
                                timeout=GATHER_TIMEOUT)


def gather(shard: Shard, obj: Any) -> list[Any] | None:
    """Every rank's `obj` on rank 0 (in rank order), None on the others; [obj] for one
    process. Every rank must call it, the same number of times."""
    if not shard.active:
        return [obj]
    import torch.distributed as dist

    out: list[Any] | None = [None] * shard.world if shard.rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def finish(shard: Shard) -> None:
    if not shard.active:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()

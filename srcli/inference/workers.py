"""Overlapped batches: decode, model and encode in threads, with bounded memory (issue 29).

`-j/--jobs LOAD:PROC:SAVE`, as in realesrgan-ncnn-vulkan: LOAD threads decode the next files,
PROC model workers per device compute, SAVE threads encode finished ones, all at once. 0
loaders (savers) means each model worker decodes (encodes) its own files; `0:1:0` with one
device is the old serial loop, run in the calling thread with no thread at all.

Memory is bounded by slots, not by queue lengths: a loader takes an input slot before it
decodes and the model worker gives it back when the model is done with that input (LOAD +
PROC slots), and a model worker takes an output slot before it hands a result on, given back
when the file is written (SAVE slots). So at most LOAD + PROC decoded inputs and PROC + SAVE
results exist: with 1:1:1, two of each, where the serial loop has one.

Every item goes through every stage, even one that is already finished (skipped or failed
while loading): stages pass such an item on untouched. With one thread per stage the queues
are first in, first out, so items finish in input order; with several, in the order they
finish. Model workers pull from one queue, so a slow device simply takes fewer files, and each
item is taken exactly once.

Stop (an exception in a stage, or Ctrl-C in the calling thread): no stage starts new work,
a model worker abandons its file at the next tile (`Cancelled` from its progress callback),
a file being encoded is finished (writes are atomic anyway), and every thread is joined
before the exception goes on, so the caller can release what the unfinished items hold.
Torch-free at import; the CLI declares `--jobs` with `Jobs.parse`.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from srcli.errors import ConfigError

T = TypeVar("T")
W = TypeVar("W")
_JOBS = re.compile(r"^(\d+):(\d+):(\d+)$")
MAX_JOBS = 64
#: How often a blocked thread looks whether the batch was stopped (seconds).
_POLL = 0.05


class Cancelled(BaseException):  # noqa: N818  (not an error: it must pass `except Exception`)
    """Raised by a model worker's progress callback once the batch is stopping."""


@dataclass(frozen=True)
class Jobs:
    load: int = 1
    proc: int = 1  # model workers per device
    save: int = 1

    @classmethod
    def parse(cls, text: str) -> Jobs:
        m = _JOBS.match(text.strip())
        if not m:
            raise ConfigError(f"expected LOAD:PROC:SAVE thread counts such as 1:1:1, not {text!r}")
        jobs = cls(*(int(g) for g in m.groups()))
        if jobs.proc < 1:
            raise ConfigError("PROC (the middle number) must be at least 1: the model needs a "
                              "worker; 0:1:0 is the serial loop")
        if max(jobs.load, jobs.proc, jobs.save) > MAX_JOBS:
            raise ConfigError(f"at most {MAX_JOBS} threads per stage")
        return jobs

    def __str__(self) -> str:
        return f"{self.load}:{self.proc}:{self.save}"


def worker_threads(threads: int | None, cpu: Sequence[bool], total: int) -> list[int | None]:
    """CPU threads for each model worker (`cpu[i]`: worker i runs on the CPU). One worker
    keeps `threads` (None: the engine's default). Several CPU workers split the budget
    (`threads`, else `total`), at least one each, since they compute at the same time;
    GPU workers take the same number, so the process-wide setting agrees."""
    n_cpu = sum(cpu)
    if len(cpu) <= 1 or n_cpu <= 1:
        return [threads] * len(cpu)
    share = max(1, (threads or total) // n_cpu)
    return [share] * len(cpu)


@dataclass
class Stages(Generic[T, W]):
    """What a batch does with each item. Each function handles its own per-item failures
    (marking the item finished); anything it raises stops the whole batch."""

    load: Callable[[T], None]  # every item, first; decides whether it is pending
    compute: Callable[[W, T, Callable[[], bool]], None]  # (worker, item, stopping)
    save: Callable[[T], None]
    pending: Callable[[T], bool]  # still to be worked on (not skipped or failed)
    done: Callable[[T], None]  # in the calling thread, once per item, as items finish
    enter: Callable[[W], None] | None = None  # in each model worker's thread, first


def run(items: Sequence[T], workers: Sequence[W], stages: Stages[T, W], jobs: Jobs) -> None:
    """Push every item through load -> compute (one of `workers`) -> save; see the module
    docstring. `workers`: one per model worker (PROC per device)."""
    if not workers:
        raise ValueError("no model worker")
    if len(workers) == 1 and (jobs.load == jobs.save == 0 or len(items) <= 1):
        _serial(items, workers[0], stages)
        return
    _Batch(items, workers, stages, jobs).run()


def _serial(items: Sequence[T], worker: W, stages: Stages[T, W]) -> None:
    if stages.enter is not None:
        stages.enter(worker)
    for item in items:
        _through(item, worker, stages, lambda: False)
        stages.done(item)


def _through(item: T, worker: W, stages: Stages[T, W], stopping: Callable[[], bool]) -> None:
    stages.load(item)
    for step in (lambda it: stages.compute(worker, it, stopping), stages.save):
        if stages.pending(item):
            step(item)


class _Batch(Generic[T, W]):
    def __init__(self, items: Sequence[T], workers: Sequence[W], stages: Stages[T, W],
                 jobs: Jobs) -> None:
        self.items, self.workers, self.stages, self.jobs = items, workers, stages, jobs
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.todo: queue.Queue[T] = queue.Queue()  # not bounded: holds undecoded items only
        for item in items:
            self.todo.put(item)
        self.loaded: queue.Queue[T | None] = queue.Queue()
        self.computed: queue.Queue[T | None] = queue.Queue()
        self.finished: queue.Queue[T] = queue.Queue()
        self.in_slots = threading.Semaphore(jobs.load + len(workers))
        self.out_slots = threading.Semaphore(max(jobs.save, 1))
        self.live = {"load": jobs.load, "proc": len(workers)}
        self.lock = threading.Lock()

    # ------------------------------------------------------------ blocking, stop-aware

    def _acquire(self, slots: threading.Semaphore) -> bool:
        while not self.stop.is_set():
            if slots.acquire(timeout=_POLL):
                return True
        return False

    def _get(self, q: queue.Queue[T | None]) -> T | None:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Empty):
                return q.get(timeout=_POLL)
        return None

    def _next_todo(self) -> T | None:
        with contextlib.suppress(queue.Empty):
            return None if self.stop.is_set() else self.todo.get_nowait()
        return None

    def _last(self, stage: str) -> bool:
        """Whether the calling thread is the last of its stage to finish."""
        with self.lock:
            self.live[stage] -= 1
            return self.live[stage] == 0

    # ------------------------------------------------------------ the threads

    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def target() -> None:
            try:
                body()
            except Cancelled:
                pass
            except BaseException as exc:  # reported by the calling thread
                self.errors.append(exc)
                self.stop.set()
        return target

    def _loader(self) -> None:
        while self._acquire(self.in_slots):
            item = self._next_todo()
            if item is None:
                self.in_slots.release()
                break
            self.stages.load(item)
            self.loaded.put(item)
        if self._last("load"):
            for _ in self.workers:
                self.loaded.put(None)

    def _inputs(self) -> Iterator[T]:
        """A model worker's items: from the loaders, or taken and decoded by itself."""
        while True:
            if self.jobs.load:
                item = self._get(self.loaded)
            else:
                item = self._next_todo()
                if item is not None:
                    self.stages.load(item)
            if item is None:
                return
            yield item

    def _proc(self, worker: W) -> None:
        if self.stages.enter is not None:
            self.stages.enter(worker)
        try:
            for item in self._inputs():
                if self.stages.pending(item):
                    self.stages.compute(worker, item, self.stop.is_set)
                if self.jobs.load:
                    self.in_slots.release()  # the decoded input is no longer needed
                if not self.jobs.save:
                    if self.stages.pending(item):
                        self.stages.save(item)
                    self.finished.put(item)
                elif self._acquire(self.out_slots):
                    self.computed.put(item)
        finally:
            if self._last("proc"):
                for _ in range(self.jobs.save):
                    self.computed.put(None)

    def _saver(self) -> None:
        while (item := self._get(self.computed)) is not None:
            try:
                if self.stages.pending(item):
                    self.stages.save(item)
            finally:
                self.out_slots.release()
            self.finished.put(item)

    # ------------------------------------------------------------ the calling thread

    def run(self) -> None:
        threads = [threading.Thread(target=self._guard(self._loader), name=f"srcli-load-{i}",
                                    daemon=True) for i in range(self.jobs.load)]
        threads += [threading.Thread(target=self._guard(lambda w=w: self._proc(w)),
                                     name=f"srcli-proc-{i}", daemon=True)
                    for i, w in enumerate(self.workers)]
        threads += [threading.Thread(target=self._guard(self._saver), name=f"srcli-save-{i}",
                                     daemon=True) for i in range(self.jobs.save)]
        for t in threads:
            t.start()
        try:
            remaining = len(self.items)
            while remaining and not self.stop.is_set():
                try:
                    # All threads gone with items missing: only after an error (raised
                    # below); what they finished before is reported first.
                    idle = not any(t.is_alive() for t in threads)
                    item = self.finished.get_nowait() if idle else \
                        self.finished.get(timeout=_POLL)
                except queue.Empty:
                    if idle:
                        break
                    continue
                self.stages.done(item)
                remaining -= 1
        finally:  # Ctrl-C lands here, in the calling thread: stop the others, then go on
            self.stop.set()
            for t in threads:
                t.join()
            # Files written while the others stopped are reported too (a second Ctrl-C
            # here only cuts that short: the first one is already on its way).
            with contextlib.suppress(queue.Empty, Exception, KeyboardInterrupt):
                while True:
                    self.stages.done(self.finished.get_nowait())
        if self.errors:
            raise self.errors[0]

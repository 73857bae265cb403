"""Execute run units against a store: claim, run, record — in this process or in workers.

Each unit is claimed atomically in the store before it runs, so any number of processes
(``--workers`` here, or separate ``rnnlab compare`` commands) can work through the same plan:
finished runs are skipped, unfinished runs whose owner's lease ran out (see
:mod:`rnnlab.compare.store`) are resumed from their checkpoints, and runs whose owner keeps
its lease are waited for.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from rnnlab.compare.store import Store
from rnnlab.compare.units import RunFn, RunResult, RunUnit, versions
from rnnlab.errors import UserInputError

# outcome names reported to the progress callback
RAN, SKIPPED, BUSY = "ran", "skipped", "busy"

_STORES: dict[str, Store] = {}


@dataclass(frozen=True)
class UnitOutcome:
    """What happened to a unit in one pass: ``ran`` (with the run's status), ``skipped``
    (already finished in the store) or ``busy`` (another owner's lease is fresh)."""

    unit: RunUnit
    outcome: str
    status: str | None = None


def _store(root: str) -> Store:
    # One connection per process and store (workers are separate processes).
    key = f"{os.getpid()}:{root}"
    if key not in _STORES:
        _STORES[key] = Store.open(root)
    return _STORES[key]


def execute_unit(
    root: str, unit: RunUnit, run_fn: RunFn, retry_failed: bool = False
) -> UnitOutcome:
    """Claim ``unit`` in the store at ``root``; if it is ours, run it and record the result.

    A run that raises is recorded as ``failed`` with its traceback and the plan carries on;
    ``KeyboardInterrupt`` and :class:`UserInputError` (a corrupt checkpoint, say) propagate
    and leave the row ``running``, so the next invocation resumes it.
    """
    store = _store(root)
    claim = store.claim(
        unit.key,
        phase=unit.phase,
        seed=unit.seed,
        task=unit.config.task,
        model=unit.config.model,
        config=unit.config.to_dict(),
        retry_failed=retry_failed,
    )
    if claim == "finished":
        return UnitOutcome(unit, SKIPPED, store.get(unit.key).status)
    if claim == "busy":
        return UnitOutcome(unit, BUSY)
    checkpoint_dir = store.checkpoint_dir(unit.key)
    try:
        with store.heartbeat(unit.key):
            result = run_fn(unit.config, unit.seed, checkpoint_dir)
    except UserInputError:
        raise  # e.g. a corrupt checkpoint: the user must act; the row stays unfinished
    except Exception:
        result = RunResult(status="failed", error=traceback.format_exc(limit=20))
    store.finish(
        unit.key,
        status=result.status,
        metrics=result.metrics,
        curves=result.curves,
        cost=result.cost,
        versions=versions(),
        error=result.error,
    )
    return UnitOutcome(unit, RAN, result.status)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


SMALL_MODEL_PARAMS = 100_000
"""Below this many parameters a run gains nothing from a second torch thread: its matrices
are too small to split, and the threads' synchronisation (worse on busy cores) costs more
than it saves, so extra cores are better spent on more runs at once."""


def default_threads(workers: int) -> int:
    """Torch threads per run process when not given: the cores shared out among ``workers``."""
    return max(1, (os.cpu_count() or 1) // workers)


def parallelism(workers: int | None, threads: int | None, *, largest_model: int) -> tuple[int, int]:
    """Run processes and torch threads per process; ``None`` chooses.

    Workers default to one per core (at most 4). Threads default to 1 when every model has
    fewer than :data:`SMALL_MODEL_PARAMS` parameters (``largest_model``), else to the cores
    shared out among the workers, so ``workers × threads`` never oversubscribes the cores.
    """
    cores = os.cpu_count() or 1
    workers = workers or max(1, min(cores, 4))
    if threads is None:
        threads = 1 if largest_model < SMALL_MODEL_PARAMS else default_threads(workers)
    return workers, threads


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    # Runs in this process: use ``threads`` for their duration, then give back the caller's.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute(
    units: Sequence[RunUnit],
    root: str | os.PathLike[str],
    run_fn: RunFn,
    *,
    workers: int = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    on_outcome: Callable[[UnitOutcome], None] | None = None,
    poll_seconds: float = 2.0,
) -> list[UnitOutcome]:
    """Bring every unit to a finished state in the store and return the final outcomes.

    With ``workers > 1`` units run in that many processes (spawned). Each run uses
    ``threads`` torch threads (default :func:`default_threads`: ``cpu_count // workers``), in
    the workers or, with one worker, in this process for the duration of the call. Units held
    by another owner are polled until they finish or its lease runs out, in which case this
    call takes them over.
    """
    root = str(Path(root))
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    threads = threads or default_threads(workers)
    pending = list(units)
    final: dict[str, UnitOutcome] = {}
    pool = None
    if workers > 1 and len(pending) > 1:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads,),
        )
    try:
        # with a pool the workers set their own threads; otherwise the runs are ours
        with nullcontext() if pool is not None else _torch_threads(threads):
            while pending:
                outcomes = _one_pass(pending, root, run_fn, retry_failed, pool)
                busy = []
                for outcome in outcomes:
                    if on_outcome is not None:
                        on_outcome(outcome)
                    if outcome.outcome == BUSY:
                        busy.append(outcome.unit)
                    else:
                        final[outcome.unit.key] = outcome
                pending = busy
                if pending:
                    time.sleep(poll_seconds)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return [final[unit.key] for unit in units]


def _one_pass(
    units: list[RunUnit],
    root: str,
    run_fn: RunFn,
    retry_failed: bool,
    pool: ProcessPoolExecutor | None,
) -> Iterator[UnitOutcome]:
    if pool is None:
        for unit in units:
            yield execute_unit(root, unit, run_fn, retry_failed)
        return
    futures = [pool.submit(execute_unit, root, unit, run_fn, retry_failed) for unit in units]
    for future in as_completed(futures):
        yield future.result()

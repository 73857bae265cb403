"""Progress bars: :class:`RunProgress` for a plan of runs (``compare``, ``claims``): runs
finished and started of the plan, the runs going now (read from the store, so runs in
worker processes or on a cluster show too) and the one that finished last, elapsed time
and an ETA;
:func:`step_progress` for one training (``diagnose``).

The ETA is the time the runs trained in this phase took per run (time to the last one's end
/ runs trained: with parallel workers that is the throughput, overlaps included) times the
runs left, less the time since the last run ended; runs found finished in the store take no
time and count for neither. Until one run has trained the ETA is unknown, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text


def eta_seconds(
    elapsed_s: float, trained: float, remaining: float, since_last_s: float = 0.0
) -> float | None:
    """Seconds left for ``remaining`` runs when ``trained`` runs took ``elapsed_s`` (until the
    last of them finished, ``since_last_s`` ago: the count goes down between runs, never
    below 0); None before the first run has trained, 0 when nothing remains. Runs may be
    weighted by their expected cost: then both counts are in work units."""
    if remaining <= 0:
        return 0.0
    if trained <= 0:
        return None
    return max(0.0, elapsed_s / trained * remaining - since_last_s)


def format_duration(seconds: float | None) -> str:
    """``1:05:09``, ``4:07``, or ``?`` when unknown."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class EtaColumn(ProgressColumn):
    """``ETA m:ss`` from the task's fields ``began``, ``last_at`` (perf_counter of the last
    trained run), ``work_trained`` and ``work_left`` (runs, or their expected cost when the
    plan weighs them), recomputed at every refresh so it counts down."""

    def render(self, task: Task) -> Text:
        fields = task.fields
        if task.total is None:
            return Text("ETA ?")
        now = time.perf_counter()
        eta = eta_seconds(
            fields["last_at"] - fields["began"],
            fields["work_trained"],
            fields["work_left"],
            now - fields["last_at"],
        )
        return Text(f"ETA {format_duration(eta)}", style="progress.remaining")


class GoingColumn(ProgressColumn):
    """``now: copy gru seed 2, …  last: …``: the runs training now, read from the store at
    most every ``every`` seconds (a cheap read-only query), then what finished last."""

    def __init__(
        self, store: str | None, every: float = 2.0, table_column: Column | None = None
    ) -> None:
        super().__init__(table_column=table_column)
        self.store, self.every = store, every
        self._going, self._read_at = "", -float("inf")

    def going(self) -> str:
        """The runs going now, as text (cached for ``every`` seconds)."""
        now = time.perf_counter()
        if self.store is not None and now - self._read_at >= self.every:
            from rnnlab.compare.store import runs_going

            runs = runs_going(self.store)
            self._going = ", ".join(f"{t} {m} seed {s}" for t, m, s in runs)
            self._read_at = now
        return self._going

    def render(self, task: Task) -> Text:
        going, last = self.going(), task.fields["last"]
        return Text("  ".join(part for part in (going and f"now: {going}", last) if part))


class RunProgress:
    """Context manager around a rich progress bar fed by a run plan's callbacks.

    Pass :meth:`plan` as ``on_plan`` (once per phase: tuning, final runs) and :meth:`outcome`
    as ``on_outcome`` of :func:`rnnlab.compare.plan.run_comparisons` or
    :func:`rnnlab.diagnose.study.run_claims`. ``workers`` is how many runs go at once;
    ``store``, the store's directory, to show the runs going now.
    """

    def __init__(
        self,
        console: Console,
        workers: int = 1,
        phases: tuple[str, ...] = ("runs",),
        unit: str = "runs",
        store: str | None = None,
    ) -> None:
        self.workers = max(1, workers)
        self.unit = unit
        self._phases = iter(phases)
        self._phase = "preparing"
        self._progress = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=12),
            TextColumn("{task.fields[counts]}", table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
            EtaColumn(table_column=Column(no_wrap=True, min_width=8)),
            # what goes now and finished last: cut to the terminal's width, never
            # squeezing the rest
            GoingColumn(
                None if store is None else str(store),
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1),
            ),
            console=console,
        )
        now = time.perf_counter()
        self._bar = self._progress.add_task(
            self._phase, total=None, counts="", last="", began=now, last_at=now,
            work_trained=0.0, work_left=0.0,
        )  # fmt: skip
        self.total = self.done = self.trained = 0
        self.work_left = self.work_trained = 0.0

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.__exit__(kind, error, trace)

    def plan(self, total: int, work: float | None = None) -> None:
        """A phase of ``total`` runs begins; ``work``: their expected cost in all, when
        :meth:`finished` is told each one's (the ETA then weighs runs by it)."""
        self.total, self.done, self.trained = total, 0, 0
        self.work_left, self.work_trained = float(total if work is None else work), 0.0
        self._phase = next(self._phases, "runs")
        now = time.perf_counter()
        self._progress.reset(
            self._bar, total=total, description=self._phase, counts="", last="",
            began=now, last_at=now, work_trained=0.0, work_left=self.work_left,
        )  # fmt: skip
        self._refresh()

    def outcome(self, outcome: object) -> None:
        """A :class:`rnnlab.compare.executor.UnitOutcome` arrived (``busy`` ones are ignored)."""
        kind = getattr(outcome, "outcome", "ran")
        if kind == "busy":
            return
        unit = outcome.unit  # type: ignore[attr-defined]
        status = getattr(outcome, "status", None) or kind
        where = "" if kind == "ran" else " (in store)"
        label = f"{unit.config.task} {unit.config.model} seed {unit.seed} {status}{where}"
        self.finished(label, trained=kind == "ran")

    def finished(self, label: str, trained: bool = True, work: float = 1.0) -> None:
        """One item of the plan is done; ``trained``: it took time (not found done);
        ``work``: its expected cost, in the units of :meth:`plan`'s ``work``."""
        self.done += 1
        self.work_left = max(0.0, self.work_left - work)
        if trained:
            self.trained += 1
            self.work_trained += work
            self._progress.update(
                self._bar, last_at=time.perf_counter(), work_trained=self.work_trained
            )
        self._progress.update(
            self._bar, completed=self.done, work_left=self.work_left, last=f"last: {label}"
        )
        self._refresh()

    def note(self, label: str) -> None:
        """Say what is going on now, without finishing an item."""
        self._progress.update(self._bar, last=label)

    @property
    def started(self) -> int:
        """Runs finished plus those now going (at most ``workers``)."""
        return self.done + min(self.workers, max(0, self.total - self.done))

    def _refresh(self) -> None:
        self._progress.update(
            self._bar, counts=f"{self.done}/{self.total} done, {self.started} started"
        )


@contextmanager
def step_progress(
    description: str, total: int, console: Console | None = None
) -> Iterator[Callable[[int], None]]:
    """A bar of ``total`` steps with elapsed time and an ETA (rich's, from the step rate);
    yields ``advance(step)``, to be called with each finished step's number (1-based)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
    )
    with progress:
        bar = progress.add_task(description, total=total)
        yield lambda step: progress.update(bar, completed=step)

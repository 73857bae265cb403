"""Progress bar of a training run (rich): epoch, steps, running loss and ETA.

Silent unless asked for and stderr is a terminal, so logs and CI output stay clean.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingProgress:
    """Context manager showing one bar over all steps of the run.

    The total is known once the number of steps per epoch is (from ``steps_per_epoch``,
    ``len()`` of the batches, or after the first epoch).
    """

    def __init__(self, enabled: bool, epochs: int) -> None:
        self._epochs = epochs
        self._bar: Progress | None = None
        self._task = None
        if enabled and sys.stderr.isatty():
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True, force_terminal=True),
            )

    def __enter__(self) -> TrainingProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("training", total=None, loss="-")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start_epoch(self, epoch: int, steps_per_epoch: int | None) -> None:
        """Announce epoch ``epoch`` (0-based); ``steps_per_epoch`` fixes the total when known."""
        if self._bar is None:
            return
        total = None if steps_per_epoch is None else self._epochs * steps_per_epoch
        completed = None if steps_per_epoch is None else epoch * steps_per_epoch
        self._bar.update(
            self._task,
            description=f"epoch {epoch + 1}/{self._epochs}",
            total=total,
            completed=completed,
        )

    def step(self, loss: float) -> None:
        """One optimizer step done with training loss ``loss``."""
        if self._bar is not None:
            self._bar.update(self._task, advance=1, loss=f"{loss:.4g}")

    def end_epoch(self, summary: str) -> None:
        """Print a one-line epoch summary above the bar."""
        if self._bar is not None:
            self._bar.console.print(summary)

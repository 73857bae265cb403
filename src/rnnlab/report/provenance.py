"""When, where and how long a store's runs ran, read from the store alone (so the report
rebuilt from a copied store says the same): the machine recorded with each run and the
study's wall time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rnnlab.compare.store import RunRow


def busy_seconds(rows: Sequence[RunRow]) -> float:
    """Seconds during which at least one run was in progress: the union of the runs'
    [start, finish] intervals, so pauses between sessions do not count. A run resumed after
    a kill counts from its last start only (its earlier part is not recorded)."""
    intervals = sorted((r.started_at, r.finished_at) for r in rows if r.finished_at is not None)
    total, end = 0.0, float("-inf")
    for start, finish in intervals:
        if finish <= end:
            continue
        total += finish - max(start, end)
        end = finish
    return total


def provenance_text(rows: Sequence[RunRow]) -> str | None:
    """One paragraph: when, on which machines and for how long the runs ran; None when no
    run has finished."""
    finished = [r for r in rows if r.finished_at is not None]
    if not finished:
        return None
    first = dt.datetime.fromtimestamp(min(r.started_at for r in finished), dt.UTC)
    last = dt.datetime.fromtimestamp(max(r.finished_at for r in finished), dt.UTC)
    machines = sorted({r.versions.get("machine", "") for r in finished} - {""})
    hours = busy_seconds(finished) / 3600
    text = (
        f"Runs finished between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC; wall "
        f"time {hours:.2f} h (time with at least one run in progress, pauses excluded)."
    )
    if machines:
        text += " Machine: " + "; ".join(machines) + "."
    return text


def software_text(rows: Sequence[RunRow]) -> str | None:
    """``Software: numpy 2.4.6, python 3.11.7, ...`` from the first run that recorded its
    versions (the machine is named by :func:`provenance_text`); None when none did."""
    versions = next((r.versions for r in rows if r.versions), {})
    shown = [f"{k} {v}" for k, v in versions.items() if k != "machine" and v is not None]
    return "Software: " + ", ".join(shown) + "." if shown else None

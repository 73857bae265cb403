"""The summary table printed in the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rnnlab.report.summary import (
    GroupSummary,
    format_summary,
    format_value,
    status_text,
    verdict_text,
)


def summary_table(groups: list[GroupSummary]) -> Table:
    """One row per model and comparison: metric mean ± CI, runs, params, time per epoch."""
    table = Table(title="rnnlab comparison summary", show_lines=False)
    for column in ("task", "metric", "model", "test mean ± 95 % CI", "runs", "params", "s/epoch"):
        table.add_column(column)
    for group in groups:
        for index, m in enumerate(group.models):
            first = index == 0
            table.add_row(
                group.title if first else "",
                f"{group.metric} ({'↑' if group.higher_is_better else '↓'})" if first else "",
                m.model,
                format_summary(m.summary),
                status_text(m.statuses),
                f"{m.params:,}" if m.params else "–",
                format_value(m.time_per_epoch_s, 3),
            )
        for name, value in group.baselines.items():
            table.add_row("", "", name, format_value(value), "baseline", "", "")
        table.add_section()
    return table


def print_summary(groups: list[GroupSummary], console: Console | None = None) -> None:
    """Print :func:`summary_table` and one verdict line per comparison to ``console``."""
    console = console or Console()
    console.print(summary_table(groups))
    for group in groups:
        console.print(f"{group.title}: {verdict_text(group)}", soft_wrap=True)

"""The summary printed in the terminal (rich): the answer lines first, then one narrow table
per comparison, readable in an 80-column terminal."""

from __future__ import annotations

import re

from rich.console import Console, Group
from rich.table import Table

from rnnlab.report.answer import answer_for, answer_line
from rnnlab.report.summary import (
    GroupSummary,
    format_summary,
    format_value,
    model_flags,
    status_text,
)


def summary_table(group: GroupSummary) -> Table:
    """One row per model of ``group``: test metric [95 % interval], seeds, params, s/epoch,
    notes (few seeds, not converged)."""
    arrow = "↑" if group.higher_is_better else "↓"
    table = Table(
        title=f"{group.title}: test {group.metric} ({arrow} better)", title_justify="left"
    )
    table.add_column("model", no_wrap=True)
    table.add_column(f"{group.metric} [95 % int.]", justify="right", no_wrap=True)
    table.add_column("seeds", justify="right")
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("s/epoch", justify="right", no_wrap=True)
    table.add_column("notes", overflow="fold")
    for m in group.models:
        table.add_row(
            m.model,
            format_summary(m.summary),
            status_text(m.statuses).replace(" seeds", ""),
            f"{m.params:,}" if m.params else "–",
            format_value(m.time_per_epoch_s, 3),
            "; ".join(model_flags(m, short=True)),
        )
    for name, value in group.baselines.items():
        table.add_row(name, format_value(value, 3), "–", "–", "–", "baseline")
    return table


def _plain(markdown: str) -> str:
    # rich markup, not Markdown: **x** -> [bold]x[/bold]
    return re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", markdown.replace("[", r"\["))


def print_summary(groups: list[GroupSummary], console: Console | None = None) -> None:
    """Print the answer line of every comparison, then :func:`summary_table` of each."""
    console = console or Console()
    for group in groups:
        console.print(_plain(answer_line(answer_for(group))))
    console.print(Group(*(summary_table(g) for g in groups)))

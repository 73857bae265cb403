"""rnnlab.report: Markdown/HTML reports and terminal summaries of a comparison store.

``build_report(store_dir)`` rebuilds ``report.md`` and a self-contained ``report.html`` from
the store alone; ``summarize(rows)`` gives the per-comparison statistics it shows.
"""

from rnnlab.report.console import print_summary, summary_table
from rnnlab.report.render import ReportFiles, build_report
from rnnlab.report.summary import GroupSummary, ModelSummary, summarize

__all__ = [
    "GroupSummary",
    "ModelSummary",
    "ReportFiles",
    "build_report",
    "print_summary",
    "summarize",
    "summary_table",
]

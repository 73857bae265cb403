"""Build ``report.md`` and a self-contained ``report.html`` from a results store alone.

The report is assembled once as a list of blocks (headings, paragraphs, tables, figures) and
written twice: Markdown with the figures as PNG files in ``report_files/``, and HTML with the
same figures embedded as base64 (no network, one file to send around).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnlab.compare.cost import PEAK_MEMORY_NOTE
from rnnlab.compare.margins import Margin
from rnnlab.compare.store import Store
from rnnlab.compare.tasks import LENGTH_TASKS, TASKS
from rnnlab.report import plots
from rnnlab.report.overall import overall
from rnnlab.report.published import published_for
from rnnlab.report.summary import (
    GroupSummary,
    chance_level,
    format_summary,
    format_value,
    status_text,
    summarize,
    verdict_text,
)

FIGURES_DIR = "report_files"
TEST_NAMES = {
    "welch": "Welch t-test (a permutation test where its assumptions fail)",
    "bootstrap": "permutation test",
}


@dataclass
class Heading:
    text: str
    level: int


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    name: str
    png: bytes
    caption: str


Block = Heading | Paragraph | Table | Figure


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`build_report` wrote the report."""

    markdown: Path
    html: Path
    groups: list[GroupSummary]


def _summary_table(group: GroupSummary) -> Table:
    headers = [
        "model",
        f"test {group.metric} (mean ± 95 % CI)",
        "runs",
        "params",
        "hidden × layers",
        "lr (tuning trials)",
        "s / epoch",
        "FLOPs / step",
        "ms / seq (inference)",
        "peak MiB",
    ]
    rows = []
    for m in group.models:
        lr = format_value(m.lr, 3) + (f" ({m.tune_trials})" if m.tune_trials else " (default)")
        rows.append(
            [
                m.model,
                format_summary(m.summary),
                status_text(m.statuses),
                f"{m.params:,}" if m.params else "–",
                f"{m.hidden_size} × {m.num_layers}",
                lr,
                format_value(m.time_per_epoch_s, 3),
                format_value(m.flops_per_step, 3),
                format_value(m.latency_ms, 3),
                format_value(m.peak_memory_mb, 4),
            ]
        )
    for name, value in group.baselines.items():
        rows.append([f"{name} (baseline)", format_value(value), "–", *["–"] * 7])
    return Table(headers, rows)


def _published_blocks(group: GroupSummary) -> list[Block]:
    blocks: list[Block] = []
    ours = {m.model: m for m in group.models}
    for row in published_for(group.task, group.options):
        if row.metric != group.metric:
            continue
        models = [m for m in row.values if m in ours] or list(row.values)
        table = Table(
            ["model", f"published {row.metric}", f"ours (this store, {group.title})"],
            [
                [
                    m,
                    format_value(row.values[m]),
                    format_summary(ours[m].summary) if m in ours else "not run",
                ]
                for m in models
            ],
        )
        blocks.append(Paragraph(f"**Published** — {row.source}. Setup differs: {row.setup}."))
        blocks.append(table)
    return blocks


def _chance(group: GroupSummary) -> str:
    """`` Chance level (trivial strategy): x.`` for synthetic tasks that define one, else ``""``."""
    level = chance_level(group)
    return "" if level is None else f" Chance level (trivial strategy): {format_value(level)}."


def _group_blocks(group: GroupSummary, index: int, with_published: bool) -> list[Block]:
    spec = TASKS.get(group.task)
    budget = f"{group.budget:,} parameters (±3 %)" if group.budget else "not matched"
    setup = ", ".join(f"{k}={v}" for k, v in sorted(group.options.items()) if v is not None)
    training = ", ".join(f"{k}={v}" for k, v in sorted(group.train.items()) if v is not None)
    blocks: list[Block] = [
        Heading(group.title, 2),
        Paragraph(
            f"{spec.summary if spec else ''}. Metric: test {group.metric} ({group.direction})."
            f"{_chance(group)} "
            f"Budget: {budget}. Task options: {setup or 'defaults'}. "
            f"Training: {training or 'task defaults'}."
        ),
        _summary_table(group),
        Paragraph(f"**Verdict:** {verdict_text(group)}."),
    ]
    if group.baselines:
        blocks.append(
            Paragraph(
                "Rows marked *(baseline)* are classical methods scored on the same test "
                "windows or sequences, fitted once (no seeds); they are shown for scale and "
                "take no part in the verdict."
            )
        )
    problems = [f"{m.model} {e}" for m in group.models for e in m.errors]
    if problems:
        blocks.append(Paragraph("**Runs that did not finish normally:** " + "; ".join(problems)))
    if with_published:
        blocks.extend(_published_blocks(group))
    curves = plots.learning_curves(group)
    if curves:
        blocks.append(Figure(f"curves_{index}", curves, f"{group.title}: learning curves"))
    params = plots.metric_vs_params(group)
    if params:
        blocks.append(Figure(f"params_{index}", params, f"{group.title}: metric vs parameters"))
    return blocks


def report_blocks(
    store: Store, method: str = "welch", margin: Margin | None = None
) -> tuple[list[Block], list[GroupSummary]]:
    """All blocks of the report of ``store``, and the group summaries they came from.

    ``method`` is the significance test: ``welch`` (Welch, or permutation where its
    assumptions fail) or ``bootstrap`` (permutation); ``margin`` overrides the metrics'
    equivalence margins.
    """
    rows = store.rows()
    groups = summarize(rows, method=method, baselines=store.baselines, margin=margin)
    counts: dict[str, int] = {}
    for row in rows:
        label = f"{row.phase} {row.status}"
        counts[label] = counts.get(label, 0) + 1
    versions = next((r.versions for r in rows if r.versions), {})
    blocks: list[Block] = [
        Heading("rnnlab comparison report", 1),
        Paragraph(
            f"Store `{store.root}`; built {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from "
            f"{len(rows)} stored runs ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})."
            + (
                " Software: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "."
                if versions
                else ""
            )
        ),
        Paragraph(
            "Every model in a comparison has a parameter count within 3 % of the budget (exact "
            "counts below) and the same tuning budget: its learning rate is the best of its own "
            "trials on the validation split (or the task default when no trials were run). "
            "Test metrics are means over seeds with a t-distribution 95 % confidence interval. "
            f"The best model is called better only when the {TEST_NAMES[method]} against the "
            "runner-up gives p < 0.05 after Holm's adjustment over all the comparisons of this "
            "report; the two are called equivalent only when TOST shows their difference "
            "within the stated margin (default: 1 point of accuracy, 5 % of the mean for "
            "losses and other metrics); otherwise the verdict is inconclusive and names the "
            "difference these seeds could have detected. Hedges' g is the effect size "
            "(docs/comparisons.md)."
        ),
    ]
    if not groups:
        blocks.append(Paragraph("The store holds no final runs yet."))
    answer = overall(groups)
    if answer is not None:
        text, profile = answer
        # The first screen: the answer across tasks before the method and the per-task detail.
        first = [Heading("Overall", 2), Paragraph(f"**Overall:** {text}")]
        if profile:
            first.append(Figure("profile", profile, "performance profile across tasks"))
        blocks[1:1] = first
    # Published figures appear once per task and option set: beside the longest sequences.
    published_at: dict[str, int] = {}
    for index, group in enumerate(groups):
        key = group.title.split(" (")[0] if group.task in LENGTH_TASKS else group.title
        best = published_at.get(key)
        length = group.options.get("length") or 0
        if best is None or length > (groups[best].options.get("length") or 0):
            published_at[key] = index
    shown = set(published_at.values())
    for index, group in enumerate(groups):
        blocks.extend(_group_blocks(group, index, index in shown))
    length_figures = [(task, plots.metric_vs_length(groups, task)) for task in LENGTH_TASKS]
    length_figures = [(task, png) for task, png in length_figures if png]
    if length_figures:
        blocks.append(Heading("Metric vs sequence length", 2))
        for task, png in length_figures:
            blocks.append(Figure(f"length_{task}", png, f"{task}: test metric vs length"))
    timing = plots.time_per_epoch(groups)
    if timing:
        blocks.append(Heading("Cost", 2))
        blocks.append(Figure("time_per_epoch", timing, "training time per epoch"))
    kinds = sorted({m.peak_memory_kind for g in groups for m in g.models if m.peak_memory_kind})
    blocks.append(
        Paragraph(
            "FLOPs / step: analytic 2 × multiply-adds per sample and time step of the recurrent "
            "or convolutional layers (embeddings and output heads excluded). Inference latency: "
            "median time of a forward pass with the metric on one test batch, divided by the "
            "batch size. Peak memory: "
            + "; ".join(f"{kind}: {PEAK_MEMORY_NOTE.get(kind, kind)}" for kind in kinds)
            + "."
        )
    )
    return blocks, groups


def _markdown(blocks: Sequence[Block], figures_dir: str) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}\n")
        elif isinstance(block, Paragraph):
            out.append(block.text + "\n")
        elif isinstance(block, Table):
            out.append("| " + " | ".join(block.headers) + " |")
            out.append("|" + "---|" * len(block.headers))
            out.extend("| " + " | ".join(row) + " |" for row in block.rows)
            out.append("")
        else:
            out.append(f"![{block.caption}]({figures_dir}/{block.name}.png)\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    # The only inline Markdown the blocks use: **bold** and `code`.
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}code{background:#f3f3f3;padding:0 .2em}"
)


def _html(blocks: Sequence[Block]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>rnnlab comparison report</title>',
        f"<style>{_STYLE}</style></head><body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in block.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            data = base64.b64encode(block.png).decode("ascii")
            out.append(
                f'<figure><img alt="{html.escape(block.caption)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{html.escape(block.caption)}'
                "</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_report(
    store_dir: str | os.PathLike[str], method: str = "welch", margin: Margin | None = None
) -> ReportFiles:
    """Rebuild ``report.md``, ``report_files/*.png`` and ``report.html`` in ``store_dir``.

    ``method``: ``welch`` (t-test, default) or ``bootstrap`` (permutation test) for verdicts.

    Raises:
        UserInputError: ``store_dir`` is not an rnnlab store (nothing is written then).
    """
    store = Store.open(store_dir, create=False)
    try:
        blocks, groups = report_blocks(store, method, margin)
    finally:
        store.close()
    root = Path(store_dir)
    figures = root / FIGURES_DIR
    figures.mkdir(exist_ok=True)
    for block in blocks:
        if isinstance(block, Figure):
            _write_atomically(figures / f"{block.name}.png", block.png)
    markdown, page = root / "report.md", root / "report.html"
    _write_atomically(markdown, _markdown(blocks, FIGURES_DIR).encode())
    _write_atomically(page, _html(blocks).encode())
    return ReportFiles(markdown, page, groups)

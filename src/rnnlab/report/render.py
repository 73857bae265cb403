"""Build ``report.md`` and a self-contained ``report.html`` from a results store alone.

The report is assembled once as a list of blocks (headings, paragraphs, tables, figures) and
written twice: Markdown with the figures as PNG files in ``report_files/``, and HTML with the
same figures embedded as base64 (no network, one file to send around).
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnlab.compare.cost import PEAK_MEMORY_NOTE
from rnnlab.compare.intervals import METHOD, metric_range
from rnnlab.compare.margins import Margin
from rnnlab.compare.store import Store
from rnnlab.compare.tasks import LENGTH_TASKS, TASKS
from rnnlab.report import html as html_parts
from rnnlab.report import plots
from rnnlab.report.answer import answer_for, answer_line
from rnnlab.report.html import numeric_columns
from rnnlab.report.overall import overall
from rnnlab.report.palette import model_colours
from rnnlab.report.provenance import provenance_text, software_text
from rnnlab.report.published import ordering_check, published_for
from rnnlab.report.summary import (
    GroupSummary,
    chance_level,
    format_summary,
    format_value,
    model_flags,
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
    anchor: str = ""


@dataclass
class Answers:
    """The answer lines (Markdown), shown first and boxed; ``links``: each line links to its
    comparison's section."""

    lines: list[str]
    links: bool = False


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


Block = Heading | Paragraph | Answers | Table | Figure


@dataclass(frozen=True)
class ReportFiles:
    """Where :func:`build_report` wrote the report."""

    markdown: Path
    html: Path
    groups: list[GroupSummary]


def _summary_table(group: GroupSummary, loaded: bool) -> Table:
    timing = " *" if loaded else ""
    headers = [
        "model",
        f"test {group.metric} [95 % CI]",
        "seeds",
        "params",
        "hidden × layers",
        "lr (trials)",
        f"s/epoch{timing}",
        "CPU s/epoch",
        "FLOPs/step",
        f"ms/seq{timing}",
        "peak MiB",
        "notes",
    ]
    rows = []
    for m in group.models:
        lr = format_value(m.lr, 3) + (f" ({m.tune_trials})" if m.tune_trials else " (default)")
        rows.append(
            [
                m.model,
                format_summary(m.summary),
                status_text(m.statuses).replace(" seeds", ""),
                f"{m.params:,}" if m.params else "–",
                f"{m.hidden_size} × {m.num_layers}",
                lr,
                format_value(m.time_per_epoch_s, 3),
                format_value(m.cpu_time_per_epoch_s, 3),
                format_value(m.flops_per_step, 3),
                format_value(m.latency_ms, 3),
                format_value(m.peak_memory_mb, 3),
                "; ".join(model_flags(m, short=True)),
            ]
        )
    for name, value in group.baselines.items():
        rows.append([f"{name} (baseline)", format_value(value, 3), *["–"] * 9, "baseline"])
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
        ordering = ordering_check(row, group)
        if not row.values and ordering is None:
            continue  # a finding about models this comparison did not run
        blocks.append(Paragraph(f"**Published** — {row.source}. Setup differs: {row.setup}."))
        if row.values:
            blocks.append(table)
        if ordering:
            blocks.append(Paragraph(ordering))
    return blocks


def _chance(group: GroupSummary) -> str:
    """`` Chance level (trivial strategy): x.`` for synthetic tasks that define one, else ``""``."""
    level = chance_level(group)
    return "" if level is None else f" Chance level (trivial strategy): {format_value(level)}."


def _group_blocks(
    group: GroupSummary, index: int, with_published: bool, colours: dict[str, str], loaded: bool
) -> list[Block]:
    spec = TASKS.get(group.task)
    budget = f"{group.budget:,} parameters (±3 %)" if group.budget else "not matched"
    setup = ", ".join(f"{k}={v}" for k, v in sorted(group.options.items()) if v is not None)
    training = ", ".join(f"{k}={v}" for k, v in sorted(group.train.items()) if v is not None)
    blocks: list[Block] = [
        Heading(group.title, 2, anchor=f"group-{index}"),
    ]
    dots = plots.seed_values(group, colours)
    if dots:
        blocks.append(
            Figure(f"seeds_{index}", dots, f"{group.title}: test {group.metric} per seed")
        )
    flags = [f"**{m.model}** {flag}" for m in group.models for flag in model_flags(m)]
    blocks += [
        _summary_table(group, loaded),
        *([Paragraph("**Notes:** " + "; ".join(flags) + ".")] if flags else []),
        Paragraph(
            f"{spec.summary if spec else ''}. Metric: test {group.metric} ({group.direction}); "
            f"interval: {METHOD[metric_range(group.metric)]}.{_chance(group)} "
            f"Budget: {budget}. Task options: {setup or 'defaults'}. "
            f"Training: {training or 'task defaults'}. Test detail: {verdict_text(group)}."
        ),
    ]
    if group.baselines:
        blocks.append(
            Paragraph(
                "Rows marked *(baseline)* are classical methods scored on the same test "
                "windows or sequences, fitted once (no seeds); they are shown for scale and "
                "take no part in the verdict."
            )
        )
    if len(group.machines) > 1:
        blocks.append(
            Paragraph(
                "**Warning:** the runs of this comparison ran on different kinds of machine "
                f"({', '.join(group.machines)}): their time and memory figures do not compare."
            )
        )
    problems = [f"{m.model} {e}" for m in group.models for e in m.errors]
    if problems:
        blocks.append(Paragraph("**Runs that did not finish normally:** " + "; ".join(problems)))
    if with_published:
        blocks.extend(_published_blocks(group))
    curves = plots.learning_curves(group, colours)
    if curves:
        blocks.append(Figure(f"curves_{index}", curves, f"{group.title}: learning curves"))
    return blocks


def _loaded(groups: list[GroupSummary]) -> bool:
    """True when a run ended with the load average above the core count."""
    return any(m.load_per_core > 1 for g in groups for m in g.models)


LOAD_CAVEAT = (
    "* Timing caveat: some runs ended with the machine's load average above its core count "
    "(parallel workers or other programs shared the cores), so seconds per epoch and "
    "milliseconds per sequence are inflated and noisy; compare them only within one run of "
    "`rnnlab bench` on an idle machine."
)


def report_blocks(
    store: Store, method: str = "welch", margin: Margin | None = None
) -> tuple[list[Block], list[GroupSummary]]:
    """All blocks of the report of ``store``, and the group summaries they came from.

    The answer comes first (one line per comparison, and the overall answer across tasks),
    then each comparison's details, then cost and the methods. ``method`` is the
    significance test: ``welch`` (Welch, or permutation where its assumptions fail) or
    ``bootstrap`` (permutation); ``margin`` overrides the metrics' equivalence margins.
    """
    rows = store.rows()
    groups = summarize(rows, method=method, baselines=store.baselines, margin=margin)
    colours = model_colours(m.model for g in groups for m in g.models)
    loaded = _loaded(groups)
    counts: dict[str, int] = {}
    for row in rows:
        label = f"{row.phase} {row.status}"
        counts[label] = counts.get(label, 0) + 1
    blocks: list[Block] = [Heading("rnnlab comparison report", 1)]
    if groups:
        blocks.append(Answers([answer_line(answer_for(g)) for g in groups], links=True))
    else:
        blocks.append(Paragraph("The store holds no final runs yet."))
    across = overall(groups)
    if across is not None:
        text, profile = across
        blocks.append(Paragraph(f"**Overall:** {text}"))
        if profile:
            blocks.append(Figure("profile", profile, "performance profile across tasks"))
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
        blocks.extend(_group_blocks(group, index, index in shown, colours, loaded))
    length_figures = [(t, plots.metric_vs_length(groups, t, colours)) for t in LENGTH_TASKS]
    length_figures = [(task, png) for task, png in length_figures if png]
    if length_figures:
        blocks.append(Heading("Metric vs sequence length", 2))
        for task, png in length_figures:
            blocks.append(Figure(f"length_{task}", png, f"{task}: test metric vs length"))
    timing = plots.time_per_epoch(groups, colours)
    if timing:
        blocks.append(Heading("Cost", 2))
        blocks.append(Figure("time_per_epoch", timing, "training time per epoch"))
    if loaded:
        blocks.append(Paragraph(LOAD_CAVEAT))
    kinds = sorted({m.peak_memory_kind for g in groups for m in g.models if m.peak_memory_kind})
    intervals = sorted({METHOD[metric_range(g.metric)] for g in groups})
    blocks += [
        Heading("How these numbers were made", 2),
        Paragraph(
            "Every model in a comparison has a parameter count within 3 % of the budget (exact "
            "counts in the tables) and the same tuning budget: its learning rate is the best of "
            "its own trials on the validation split (or the task default when no trials were "
            "run). Test metrics are means over seeds; every seed is drawn as a dot. Intervals "
            "are 95 % and stay inside the metric's range: "
            + "; ".join(intervals)
            + " (log for losses and errors, logit for accuracies, mapped back by the delta "
            "method around the arithmetic mean). "
            f"The best model is called better only when the {TEST_NAMES[method]} against the "
            "runner-up gives p < 0.05 after Holm's adjustment over all the comparisons of this "
            "report; the two are called equivalent only when TOST shows their difference "
            "within the stated margin (default: 1 point of accuracy, 5 % of the mean for "
            "losses and other metrics); otherwise the comparison is inconclusive, which is not "
            "evidence that the models are equal, and the test detail names the difference "
            "these seeds could have detected (docs/comparisons.md). Hedges' g is the effect "
            'size. Seeds are paired by number for the "better on k/n seeds" counts.'
        ),
        Paragraph(
            "FLOPs / step: analytic 2 × multiply-adds per sample and time step of the recurrent "
            "or convolutional layers (embeddings and output heads excluded). Inference latency: "
            "median time of a forward pass with the metric on one test batch, divided by the "
            "batch size. Peak memory: "
            + "; ".join(f"{kind}: {PEAK_MEMORY_NOTE.get(kind, kind)}" for kind in kinds)
            + ". "
            + TIMING_NOTE
        ),
        Paragraph(
            f"Store `{store.root}`; built {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from "
            f"{len(rows)} stored runs ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})."
            + (f" {software}" if (software := software_text(rows)) else "")
        ),
    ]
    provenance = provenance_text(rows)
    if provenance:
        blocks.append(Paragraph(provenance))
    return blocks, groups


TIMING_NOTE = (
    "s/epoch: wall time of an epoch (training and validation), which grows with the number of "
    "processes that shared the machine; CPU s/epoch: the CPU time of the run's process in the "
    "same span, which hardly does for one-thread runs: compare models by it."
)


def _markdown(blocks: Sequence[Block], figures_dir: str) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}\n")
        elif isinstance(block, Paragraph):
            out.append(block.text + "\n")
        elif isinstance(block, Answers):
            out.extend(f"- {line}" for line in block.lines)
            out.append("")
        elif isinstance(block, Table):
            right = numeric_columns(block.rows)
            out.append("| " + " | ".join(block.headers) + " |")
            out.append(
                "|" + "".join("---:|" if i < len(right) and right[i] else "---|"
                              for i in range(len(block.headers)))
            )  # fmt: skip
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


def _html(blocks: Sequence[Block]) -> str:
    out = []
    anchors = [b.anchor for b in blocks if isinstance(b, Heading) and b.anchor]
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f' id="{block.anchor}"' if block.anchor else ""
            out.append(f"<h{block.level}{anchor}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Answers):
            items = [
                _inline(line)
                + (
                    f' <a href="#{anchors[i]}">details</a>'
                    if block.links and i < len(anchors)
                    else ""
                )
                for i, line in enumerate(block.lines)
            ]
            out.append('<div class="answer">' + "<br>".join(items) + "</div>")
        elif isinstance(block, Table):
            out.append(html_parts.table(block.headers, block.rows, _inline))
        else:
            out.append(html_parts.figure(block.png, block.caption))
    return html_parts.page("rnnlab comparison report", out)


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

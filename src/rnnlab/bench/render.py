"""Showing a report: rich tables, Markdown, and the scaling curves' PNG."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from rnnlab.bench.cases import AXIS_POSITION, Variant, parse_variants
from rnnlab.bench.results import BenchReport, CaseResult, ExtensionWarmup, ScalingCurves


def _curve_styles(lines: Sequence[tuple[Variant, str]]) -> list[dict[str, object]]:
    """Colour by family (blues LSTM, reds GRU, greens minGRU/minLSTM, darkest first), a
    marker per curve of the family, line style by engine."""
    import matplotlib

    def family(variant: Variant) -> str:
        return "min" if variant.cell.startswith("min") else variant.cell.split("-")[0]

    palettes = {"lstm": "Blues", "gru": "Reds", "min": "Greens"}
    counts = {f: sum(family(v) == f for v, _ in lines) for f in {family(v) for v, _ in lines}}
    seen: dict[str, int] = {}
    styles = []
    for variant, engine in lines:
        name = family(variant)
        index = seen[name] = seen.get(name, -1) + 1
        shade = 0.95 - 0.5 * index / max(counts[name] - 1, 1)
        styles.append(
            {
                "color": matplotlib.colormaps[palettes.get(name, "Greys")](shade),
                "linestyle": {"native": "-", "loop": "--", "scan": ":"}.get(engine, "-."),
                "marker": "osD^vPX*"[index % 8],
            }
        )
    return styles


def draw_scaling(curves: ScalingCurves, path: str | Path | None = None) -> None:
    """Draw the points as one log-log panel per swept axis, in ``path`` (default ``curves.png``).

    Lines are medians, bands min-max.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(p.curve for p in curves.points))
    lines = [(parse_variants(n.rsplit("/", 1)[0])[0], n.rsplit("/", 1)[1]) for n in names]
    styles = dict(zip(names, _curve_styles(lines), strict=True))
    axes_names = _axes(curves)
    fig, axes = plt.subplots(
        1, len(axes_names), figsize=(5.2 * len(axes_names), 4.8), squeeze=False
    )
    for ax, axis in zip(axes[0], axes_names, strict=True):
        position = AXIS_POSITION[axis]
        for name in names:
            points = [p for p in curves.points if p.axis == axis and p.curve == name]
            values = [p.size[position] for p in points]
            variant, engine = name.rsplit("/", 1)
            ax.plot(
                values,
                [p.median_ms for p in points],
                label=f"{variant} · {engine}",
                markersize=4,
                **styles[name],
            )
            ax.fill_between(
                values,
                [p.min_ms for p in points],
                [p.max_ms for p in points],
                color=styles[name]["color"],
                alpha=0.15,
                linewidth=0,
            )
        values = sorted({p.size[position] for p in curves.points if p.axis == axis})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(values, [str(v) for v in values])
        ax.set_xlabel(axis)
        ax.set_ylabel("forward+backward, ms per call (median)")
        base = next(p.size for p in curves.points if p.axis == axis)
        fixed = ", ".join(
            f"{k}={v}" for i, (k, v) in enumerate(zip("TBIH", base, strict=True)) if i != position
        )
        ax.set_title(f"time vs {axis} ({fixed})")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False)
    fig.suptitle(
        f"rnnlab engines, one layer, float32, {curves.device}, {threads_label(curves.threads)} "
        f"(native = torch.nn's fused kernel; band = min-max of {curves.reps} calls)"
    )
    rows = -(-len(labels) // 5)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * rows, 1, 1))
    fig.savefig(path or curves.png, dpi=110)
    plt.close(fig)


COLUMNS = ("T,B,I,H", "mode", "cell", "path", "ms", "min–max", "µs/step", "× torch.nn",
           "95% CI", "verdict", "× nn.LSTM /FLOP", "GFLOP/s", "% peak", "peak MiB",
           "saved MiB")  # fmt: skip


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{low:.2f}–{high:.2f}"


def _cells(r: CaseResult) -> list[str]:
    """One row's text, in ``COLUMNS`` order."""
    per_flop = (
        ""
        if r.lstm_flop_ratio is None
        else (f"{r.lstm_flop_ratio:.2f} ({_interval(r.lstm_flop_low, r.lstm_flop_high)})")
    )
    return [
        ",".join(map(str, r.size)), r.mode, r.variant,
        r.path_label + (" (auto)" if r.auto else ""), f"{r.median_ms:.1f}",
        f"{r.min_ms:.1f}–{r.max_ms:.1f}", f"{r.per_step_us:.0f}",
        "" if r.ratio is None else f"{r.ratio:.2f}", _interval(r.ratio_low, r.ratio_high),
        r.verdict or "", per_flop, f"{r.gflops:.1f}",
        f"{100 * r.peak_fraction:.0f}", f"{r.memory_mib:.1f}" if r.memory_mib else "",
        "" if r.saved_mib is None else f"{r.saved_mib:.1f}",
    ]  # fmt: skip


def noise_floor_lines(report: BenchReport) -> list[str]:
    """One line per (size, mode): the noise floor and the control rows that set it."""
    lines = []
    groups: dict[tuple[tuple[int, ...], str], list[CaseResult]] = {}
    for r in report.results:
        groups.setdefault((r.size, r.mode), []).append(r)
    for (size, mode), rows in groups.items():
        controls = [r for r in rows if r.control and r.ratio is not None]
        floor = rows[0].noise_floor
        if floor is None or not controls:
            continue
        shown = ", ".join(
            f"{r.variant}/{r.path_label} {r.ratio:.2f} ({_interval(r.ratio_low, r.ratio_high)})"
            for r in controls
        )
        lines.append(
            f"noise floor at {','.join(map(str, size))} {mode}: ±{100 * floor:.0f} % "
            f"(same-kernel controls × torch.nn: {shown})"
        )
    return lines


def threads_label(count: int) -> str:
    return f"{count} thread" + ("s" if count != 1 else "")


def _title(report: BenchReport) -> str:
    load = ""
    if report.load_average:
        start, end = report.load_average
        load = f", load average {start:.1f} → {end:.1f} on {report.cpus} CPUs"
    return (
        f"rnnlab bench: {report.device}, {threads_label(report.threads)}, "
        f"torch {report.torch_version}, "
        f"peak FP32 GEMM {report.peak_gemm_gflops:.0f} GFLOP/s (measured in this run){load}"
    )


def busy_warning(report: BenchReport) -> str | None:
    """A warning when other processes loaded the machine during the run, else None."""
    if not report.load_average or not report.cpus or max(report.load_average) <= report.cpus:
        return None
    return (
        f"Warning: the load average reached {max(report.load_average):.1f} on {report.cpus} "
        "CPUs: other processes competed for the cores, so times are unreliable (a multi-thread "
        "kernel waits for every descheduled thread); ratios were measured in shared rounds, "
        "pair by pair, but carry the noise too (see the noise floor). Rerun on an idle machine"
        + (", or with --threads 1." if report.threads > 1 else ".")
    )


def _caption(report: BenchReport) -> str:
    if report.schema < 3:
        return (
            "time: median and min–max over reps; × torch.nn: median / median of the torch.nn "
            "module timed alternately with the case, call by call; memory: " + report.memory_measure
        )
    return (
        "time: median and min–max over reps; × torch.nn: median over pairs of case time / "
        "torch.nn time, the two timed in the same round in shuffled order, with its 95 % "
        "bootstrap CI over pairs; verdict: faster or slower only when the whole CI lies beyond "
        "the noise floor (how far the same-kernel controls' CIs reach from 1 at that size and "
        "mode), else parity (no difference shown); × nn.LSTM /FLOP (GRU cells): time per FLOP "
        "over nn.LSTM's, timed in the same rounds; path: the code that ran, (auto) where "
        f"engine='auto' runs it for this cell, device and mode; memory: "
        f"{report.memory_measure}"
    )


WARMUP_COLUMNS = ("C++ kernels", "available", "seconds", "built or loaded",
                  "unchanged after run", "reason")  # fmt: skip


def warmup_cells(w: ExtensionWarmup) -> list[str]:
    """One warm-up row's text, in ``WARMUP_COLUMNS`` order."""
    unchanged = {None: "", True: "yes", False: "NO"}[w.unchanged_after_run]
    return [
        w.family, "yes" if w.available else "no", f"{w.seconds:.3f}",
        "built" if w.built else ("loaded from cache" if w.available else ""), unchanged,
        w.reason or "",
    ]  # fmt: skip


WARMUP_NOTE = (
    "Warm-up, not in any time above: each C++ library is compiled once per machine (cached on "
    "disk) and loaded once per process; 'unchanged after run' means no size, length or batch "
    "of the run rebuilt or reloaded it."
)


def _scaling_grid(curves: ScalingCurves, axis: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per curve, median ms per value) of one sweep."""
    points = [p for p in curves.points if p.axis == axis]
    position = AXIS_POSITION[axis]
    values = sorted({p.size[position] for p in points})
    by_curve: dict[str, dict[int, float]] = {}
    for p in points:
        by_curve.setdefault(p.curve, {})[p.size[position]] = p.median_ms
    base = next(p.size for p in points)
    fixed = ",".join(
        "·" if k == position else str(v) for k, v in enumerate(base)
    )  # T,B,I,H with the swept one as ·
    header = [f"ms at T,B,I,H = {fixed}", *(f"{axis}={v}" for v in values)]
    rows = [
        [curve, *(f"{ms[v]:.1f}" if v in ms else "" for v in values)]
        for curve, ms in by_curve.items()
    ]
    return header, rows


def _axes(curves: ScalingCurves) -> list[str]:
    return list(dict.fromkeys(p.axis for p in curves.points))


def print_report(report: BenchReport, console) -> None:  # console: rich.console.Console
    """Print the warm-up table, the results table and the scaling points with rich."""
    from rich.table import Table

    if report.extensions:
        warm = Table(title="C++ kernel warm-up (paid before timing)", caption=WARMUP_NOTE)
        for column in WARMUP_COLUMNS:
            warm.add_column(column, justify="right" if column == "seconds" else "left")
        for w in report.extensions:
            warm.add_row(*warmup_cells(w))
        console.print(warm)
    else:
        console.print("No C++ kernel library used in this run (nothing to warm up).")
    console.print(results_table(report, width=console.width))
    for line in noise_floor_lines(report):
        console.print(line)
    if warning := busy_warning(report):
        console.print(warning, style="bold yellow")
    if report.scaling:
        for axis in _axes(report.scaling):
            header, rows = _scaling_grid(report.scaling, axis)
            grid = Table(title=f"forward+backward vs {axis} (median of {report.scaling.reps})")
            for i, column in enumerate(header):
                grid.add_column(column, justify="left" if i == 0 else "right")
            for row in rows:
                grid.add_row(*row)
            console.print(grid)
        console.print(f"scaling curves: {report.scaling.png}")


NARROW_COLUMNS = ("T,B,I,H", "mode", "cell", "path", "ms", "× torch.nn", "verdict")
"""The columns kept in a terminal narrower than :data:`WIDE_FROM` (an 80-column one)."""
WIDE_FROM = 140


def results_table(
    report: BenchReport, title: str | None = None, width: int | None = None
):  # -> rich.table.Table
    """The report as a rich table (one row per case, baselines marked ``torch``).

    Below ``width`` :data:`WIDE_FROM` columns only :data:`NARROW_COLUMNS` are shown, and text
    cells wrap instead of being cut to "…" (the JSON and Markdown reports keep every column).
    """
    from rich.table import Table

    narrow = width is not None and width < WIDE_FROM
    shown = [i for i, c in enumerate(COLUMNS) if not narrow or c in NARROW_COLUMNS]
    caption = _caption(report) + (
        "; narrow terminal: min–max, µs/step, the 95% CI, × nn.LSTM /FLOP, GFLOP/s, % peak and "
        "memory are in --json and --markdown"
        if narrow
        else ""
    )
    table = Table(title=title or _title(report), caption=caption)
    for i in shown:
        column = COLUMNS[i]
        left = column in ("mode", "cell", "path", "verdict")
        table.add_column(
            column,
            justify="left" if left else "right",
            no_wrap=not (narrow and left),
            overflow="fold" if narrow else "ellipsis",
        )
    previous = None
    for r in report.results:
        if previous is not None and (r.size, r.mode) != previous:
            table.add_section()
        previous = (r.size, r.mode)
        cells = _cells(r)
        table.add_row(*(cells[i] for i in shown), style="dim" if r.engine == "torch" else None)
    return table


def _markdown_rows(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown_table(report: BenchReport, *, link_from: str | Path | None = None) -> str:
    """The report in Markdown (for docs and issue notes): machine, warm-up, table, curves.

    ``link_from`` is the folder the Markdown will be saved in, so the scaling PNG's link is
    relative to it (default: the current directory).
    """
    lines = [f"**{_title(report)}**", ""]
    if warning := busy_warning(report):
        lines += [warning, ""]
    if report.extensions:
        lines += _markdown_rows(WARMUP_COLUMNS, map(warmup_cells, report.extensions))
        lines += ["", WARMUP_NOTE]
    elif report.schema >= 2:
        lines.append("No C++ kernel library used in this run (nothing to warm up).")
    else:
        lines.append(f"(schema {report.schema} file: no warm-up recorded)")
    lines += ["", *_markdown_rows(COLUMNS, map(_cells, report.results)), "", _caption(report)]
    if floors := noise_floor_lines(report):
        lines += ["", *(f"- {line}" for line in floors)]
    if report.scaling:
        link = os.path.relpath(report.scaling.png, Path(link_from or "."))
        lines += ["", f"![time vs T, H and B, forward+backward]({Path(link).as_posix()})"]
        for axis in _axes(report.scaling):
            lines += ["", *_markdown_rows(*_scaling_grid(report.scaling, axis))]
    return "\n".join(lines)

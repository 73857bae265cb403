"""The claims page: Markdown and self-contained HTML (plots embedded) from a claims study.

For each claim: the statement, the experiment, the verdict, and per split the means with
95 % CIs, p-values and effect sizes behind it, with one plot of every arm's runs.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rnnlab.compare.intervals import METHOD, NON_NEGATIVE, metric_range, range_ci
from rnnlab.diagnose.claims import CLAIMS
from rnnlab.diagnose.study import ClaimsResult
from rnnlab.diagnose.verdicts import ClaimVerdict
from rnnlab.report import html as html_parts
from rnnlab.report.palette import model_colours
from rnnlab.report.plots import FONT_PT, png, style
from rnnlab.report.provenance import provenance_text, software_text
from rnnlab.report.summary import format_value

VERDICT_STYLES = {
    "supported": ("#1a7f37", "#dafbe1"),
    "refuted": ("#cf222e", "#ffebe9"),
    "equivalent": ("#0550ae", "#ddf4ff"),
    "depends": ("#8250df", "#fbefff"),
    "no-difference": ("#9a6700", "#fff8c5"),
    "inconclusive": ("#57606a", "#eaeef2"),
}
"""Text and background colour of each kind of verdict (the word is always written too)."""

MAGNIFIED = 0.01
"""A panel whose values differ by less than this fraction of their size starts at zero."""

PUBLISHED_CONTEXT = (
    "Published context (not our numbers): Chung et al. 2014 found GRU comparable to LSTM with "
    "no consistent winner; Jozefowicz et al. 2015 found a forget-gate bias of 1 closes most of "
    "LSTM's gap to GRU; Bai et al. 2018 found a TCN ahead of LSTM/GRU on most of their tasks. "
    "Their setups (lengths, budgets, data) are much larger than rnnlab's quick and standard "
    "budgets."
)


def verdict_table(result: ClaimsResult) -> pd.DataFrame:
    """One row per claim: number, statement, verdict kind and its sentence."""
    return pd.DataFrame(
        [
            {
                "claim": v.claim,
                "statement": CLAIMS[v.claim].statement,
                "verdict": v.kind,
                "detail": v.text,
            }
            for v in result.verdicts
        ]
    )


def verdict_class(kind: str) -> str:
    """CSS class of a verdict or split outcome: supported, refuted, equivalent (within a
    margin), depends (on the task), no-difference or inconclusive."""
    kind = kind.lower()
    if kind.startswith("no significant"):
        return "no-difference"
    for name in VERDICT_STYLES:
        if kind.startswith(name):
            return name
    return "inconclusive"


def _empty_note(metric: str) -> str:
    if "explosion" in metric:
        return "no explosions in any run"
    return f"{metric} = 0 in every run"


def _panel(ax: plt.Axes, part: pd.DataFrame, colours: dict[str, str]) -> None:
    arms = list(dict.fromkeys(part["arm"]))
    metric = str(part["metric"].iloc[0]) if "metric" in part else "value"
    values = part["value"].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size and not finite.any():  # every run 0: a blank panel would say nothing
        ax.text(0.5, 0.5, _empty_note(metric), ha="center", va="center",
                transform=ax.transAxes, fontsize=FONT_PT + 1)  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        return
    jitter = np.random.default_rng(0)
    means = []
    for i, arm in enumerate(arms):
        arm_values = part.loc[part["arm"] == arm, "value"].to_numpy(dtype=float)
        arm_values = arm_values[np.isfinite(arm_values)]
        x = i + jitter.uniform(-0.1, 0.1, arm_values.size)
        ax.scatter(x, arm_values, s=20, alpha=0.7, color=colours[arm], edgecolors="none")
        summary = range_ci(arm_values, metric)
        if summary.n:
            means.append(summary.mean)
            ax.errorbar(
                i + 0.28, summary.mean,
                yerr=[[summary.mean - summary.low], [summary.high - summary.mean]],
                fmt="D", color=colours[arm], capsize=4, markersize=5,
            )  # fmt: skip
    ax.set_xticks(range(len(arms)), arms)
    ax.set_xlim(-0.5, len(arms) - 0.3)
    better = "higher" if bool(part["higher_is_better"].iloc[0]) else "lower"
    ax.set_ylabel(f"{metric}\n({better} is better)")
    if metric_range(metric) == NON_NEGATIVE and finite.size and finite.min() > 0:
        ax.set_ylim(0, finite.max() * 1.12)  # counts and costs: bars of truth start at zero
    if finite.size and finite.min() > 0 and np.ptp(finite) < MAGNIFIED * finite.max():
        ax.set_ylim(0, finite.max() * 1.25)  # never magnify a 0.02 % difference
        if len(means) == 2:
            ax.text(0.5, 0.93, f"ratio {arms[0]}/{arms[1]} = {means[0] / means[1]:.4f}",
                    ha="center", va="top", transform=ax.transAxes, fontsize=FONT_PT)  # fmt: skip
    style(ax)


def plot_claim(result: ClaimsResult, claim: int) -> plt.Figure | None:
    """Each split of ``claim`` as a panel: every run (dots) and the mean with its 95 %
    interval (inside the metric's range) per arm, one colour per arm across the page."""
    rows = result.table[result.table["claim"] == claim]
    splits = list(dict.fromkeys(rows["split"]))
    if not splits:
        return None
    colours = model_colours(result.table["arm"])
    cols = min(2, len(splits))  # two panels a row stay readable on a 700 px screen
    nrows = math.ceil(len(splits) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.4 * cols, 3.4 * nrows), squeeze=False)
    for ax, split in zip(axes.flat, splits, strict=False):
        _panel(ax, rows[rows["split"] == split], colours)
        ax.set_title(split, fontsize=FONT_PT, loc="left")
    for ax in list(axes.flat)[len(splits) :]:
        ax.axis("off")
    fig.suptitle(f"Claim {claim}: {CLAIMS[claim].statement}", fontsize=FONT_PT + 1)
    fig.tight_layout()
    return fig


def store_provenance(store_dir: str | Path) -> list[str]:
    """From the store at ``store_dir`` alone (so a page rebuilt from a published copy says
    the same): when, on which machine and for how long its runs ran, and the software."""
    from rnnlab.compare.store import DB_NAME, Store

    if not (Path(store_dir) / DB_NAME).is_file():
        return []
    store = Store.open(store_dir)
    try:
        rows = store.rows()
    finally:
        store.close()
    return [text for text in (provenance_text(rows), software_text(rows)) if text]


def _header(result: ClaimsResult, provenance: Sequence[str] = ()) -> list[str]:
    b = result.budget
    lines = [
        f"Budget `{b.name}`: {b.seeds} seeds, models matched to about {b.params:,} parameters, "
        f"{b.steps} training steps per run (batch {b.batch_size}, Adam lr {b.lr:g}, clipping at "
        f"{b.clip_norm:g} unless a claim says otherwise).",
    ]
    if result.wall_time_s is not None:
        lines.append(f"Wall time of this run: {result.wall_time_s / 60:.1f} min.")
    lines.extend(provenance)
    if result.load_per_core is not None and result.load_per_core > 1:
        lines.append(
            f"**Warning: the machine was busy** (load average {result.load_per_core:.1f} per "
            "core during the runs): the seconds of claim 5 are inflated and noisy (claim 4's "
            "speed comes from its own benchmark, run after the training runs); take speed "
            "figures from `rnnlab bench` on an idle machine."
        )
    if result.design is not None and result.seeds and result.levels:
        lines.append(
            f"Seeds added adaptively (looks at {', '.join(map(str, result.design.looks))} seeds, "
            f"{result.design.spending} alpha spending): "
            + "; ".join(
                f"claim {c}: {n} seeds, level {result.levels[c]:.3g}"
                for c, n in sorted(result.seeds.items())
            )
            + "."
        )
    margin = f"--margin {result.margin.text}" if result.margin else "each metric's default margin"
    lines.append(
        "Verdicts are computed from these runs only: each contrast is a better / worse (Welch "
        "t-test, or a permutation test where Welch's assumptions fail; exact for parameters and "
        f"FLOPs), equivalent (TOST within ±margin; here {margin}) or inconclusive (with the "
        "difference these seeds could detect); p-values are Holm-adjusted within each claim. "
        "No significant difference is never read as equivalence; see docs/claims.md. "
        f"Intervals are 95 % and stay inside each metric's range ({METHOD['non-negative']} for "
        f"counts, times and losses; {METHOD['proportion']} for proportions)."
    )
    return lines


def _detail(verdict: ClaimVerdict) -> str:
    """The verdict's text without the verdict kind it starts with (shown beside it)."""
    text = verdict.text
    if text.startswith(verdict.kind):
        text = text[len(verdict.kind) :].lstrip(": ")
    return text


def _summary(values: np.ndarray, metric: str) -> str:
    s = range_ci(values, metric)
    if s.n == 0:
        return "no data"
    if s.low == s.high:
        return f"{format_value(s.mean, 3)} (n={s.n})"
    return (
        f"{format_value(s.mean, 3)} [{format_value(s.low, 3)}, {format_value(s.high, 3)}] (n={s.n})"
    )


def evidence(result: ClaimsResult, claim: int, contrast) -> str:
    """One contrast in words: both arms' means with range-respecting 95 % intervals, then its
    decision (outcome, difference and CI, margin, p-values, Hedges' g, Holm family)."""
    rows = result.table[
        (result.table["claim"] == claim) & (result.table["split"] == contrast.split)
    ]
    arms = {
        arm: _summary(rows.loc[rows["arm"] == arm, "value"].to_numpy(dtype=float), contrast.metric)
        for arm in (contrast.a, contrast.b)
    }
    decision = contrast.decision
    if contrast.test == "exact":
        words = decision.words(contrast.a, contrast.b)
        p = f"exact: {words} (margin ±{format_value(decision.margin, 2)})"
    else:  # the decision: outcome, difference with its CI, margin, p, TOST p, g
        p = decision.describe(contrast.a, contrast.b)
    if contrast.family > 1:
        p += f", Holm-adjusted over {contrast.family} contrasts"
    a, b = contrast.a, contrast.b
    text = f"{contrast.metric}: {a} {arms[a]} vs {b} {arms[b]}; {p}"
    return f"{text}; {contrast.note}" if contrast.note else text


def _split_rows(result: ClaimsResult, verdict: ClaimVerdict) -> list[list[str]]:
    return [
        [
            s.split,
            s.outcome,
            " | ".join(evidence(result, verdict.claim, c) for c in s.contrasts) or s.note,
        ]
        for s in verdict.splits
    ]


def to_markdown(
    result: ClaimsResult, images: dict[int, str] | None = None, provenance: Sequence[str] = ()
) -> str:
    """The claims page as Markdown (``images`` maps a claim to its plot's file name)."""
    images = images or {}
    out = ["# Claims about LSTM and GRU, measured", "", *_header(result, provenance), ""]
    out += ["| # | claim | verdict |", "|--:|---|---|"]
    for v in result.verdicts:
        out.append(
            f"| {v.claim} | [{CLAIMS[v.claim].statement}](#claim-{v.claim}) | **{v.kind}** |"
        )
    out += ["", PUBLISHED_CONTEXT, ""]
    for v in result.verdicts:
        claim = CLAIMS[v.claim]
        out += [f'<a id="claim-{v.claim}"></a>', "", f"## {v.claim}. {claim.statement}", ""]
        out += [f"*Experiment:* {claim.experiment}", ""]
        detail = "" if v.splits else _detail(v)  # the splits table says it once
        out += [f"**Verdict: {v.kind}**" + (f" — {detail}" if detail else ""), ""]
        if v.splits and result.notes.get(v.claim):
            out += [f"*Not run:* {'; '.join(result.notes[v.claim])}", ""]
        if v.splits:
            out += ["| split | outcome | evidence (mean [95 % CI]) |", "|---|---|---|"]
            out += [f"| {' | '.join(row)} |" for row in _split_rows(result, v)]
            out.append("")
        if v.claim == 4 and result.speed is not None:
            out += [result.speed.describe(), ""]
        if v.claim in images:
            out += [f"![claim {v.claim}]({images[v.claim]})", ""]
    return "\n".join(out)


def _verdict_style() -> str:
    return "".join(
        f".v-{name}{{color:{fg};background:{bg};font-weight:600;padding:0 .35em;"
        f"border-radius:3px;white-space:nowrap}}"
        for name, (fg, bg) in VERDICT_STYLES.items()
    )


def _badge(kind: str) -> str:
    return f"<span class='v-{verdict_class(kind)}'>{html.escape(kind)}</span>"


def to_html(result: ClaimsResult, pngs: dict[int, bytes], provenance: Sequence[str] = ()) -> str:
    """The claims page as one self-contained HTML file (plots inlined as data URIs): a
    short verdict per claim first, each linking to its section."""
    e = html.escape

    def inline(text: str) -> str:
        parts = e(text).split("**")
        text = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
        return text.replace("`", "")

    body = [
        f"<style>{_verdict_style()}</style>",
        "<h1>Claims about LSTM and GRU, measured</h1>",
        "<div class='wide'><table class='sortable'><thead><tr><th class=num>#</th>"
        "<th>claim</th><th>verdict</th></tr></thead><tbody>",
    ]
    for v in result.verdicts:
        body.append(
            f"<tr><td class=num>{v.claim}</td><td><a href='#claim-{v.claim}'>"
            f"{e(CLAIMS[v.claim].statement)}</a></td><td>{_badge(v.kind)}</td></tr>"
        )
    header = _header(result, provenance)
    body += ["</tbody></table></div>", *(f"<p>{inline(line)}</p>" for line in header)]
    body.append(f"<p><i>{e(PUBLISHED_CONTEXT)}</i></p>")
    for v in result.verdicts:
        claim = CLAIMS[v.claim]
        detail = "" if v.splits else _detail(v)  # the splits table says it once
        body += [
            f"<h2 id='claim-{v.claim}'>{v.claim}. {e(claim.statement)}</h2>",
            f"<p><i>Experiment:</i> {e(claim.experiment)}</p>",
            f"<p><b>Verdict:</b> {_badge(v.kind)}" + (f" {e(detail)}" if detail else "") + "</p>",
        ]
        if v.splits and result.notes.get(v.claim):
            body.append(f"<p><i>Not run:</i> {e('; '.join(result.notes[v.claim]))}</p>")
        if v.splits:
            outcomes = {s.outcome for s in v.splits}

            def cell(text: str, outcomes: set[str] = outcomes) -> str:
                # outcome cells get their kind's colour; evidence: one line per contrast
                return _badge(text) if text in outcomes else e(text).replace(" | ", "<br>")

            rows = _split_rows(result, v)
            body.append(
                html_parts.table(["split", "outcome", "evidence (mean [95 % CI])"], rows, cell)
            )
        if v.claim == 4 and result.speed is not None:
            body.append(f"<p>{inline(result.speed.describe())}</p>")
        if v.claim in pngs:
            body.append(
                html_parts.figure(pngs[v.claim], f"claim {v.claim}: every run and the means")
            )
    return html_parts.page("rnnlab claims", body)


def write_claims_report(result: ClaimsResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``claims.md`` (with ``claims-N.png`` beside it) and ``claims.html`` to ``out_dir``.

    Files are written to a temporary name and renamed, so a killed run never leaves half a
    page. Returns the paths by kind (``markdown``, ``html``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs: dict[int, bytes] = {}
    for v in result.verdicts:
        fig = plot_claim(result, v.claim)
        if fig is not None:
            pngs[v.claim] = png(fig)
    images = {}
    for claim, data in pngs.items():
        name = f"claims-{claim}.png"
        _atomic_write(out / name, data)
        images[claim] = name
    paths = {"markdown": out / "claims.md", "html": out / "claims.html"}
    provenance = store_provenance(out)
    _atomic_write(paths["markdown"], to_markdown(result, images, provenance).encode())
    _atomic_write(paths["html"], to_html(result, pngs, provenance).encode())
    return paths


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)

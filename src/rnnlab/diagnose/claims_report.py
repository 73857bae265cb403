"""The claims page: Markdown and self-contained HTML (plots embedded) from a claims study.

For each claim: the statement, the experiment, the verdict, and per split the means with
95 % CIs, p-values and effect sizes behind it, with one plot of every arm's runs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rnnlab.compare.stats import mean_ci
from rnnlab.diagnose.claims import CLAIMS
from rnnlab.diagnose.study import ClaimsResult
from rnnlab.diagnose.verdicts import ClaimVerdict

PUBLISHED_CONTEXT = (
    "Published context (not our numbers): Chung et al. 2014 found GRU comparable to LSTM with "
    "no consistent winner; Jozefowicz et al. 2015 found a forget-gate bias of 1 closes most of "
    "LSTM's gap to GRU; Bai et al. 2018 found a TCN ahead of LSTM/GRU on most of their tasks. "
    "Their setups (lengths, budgets, data) are much larger than the quick budget's."
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


def plot_claim(result: ClaimsResult, claim: int) -> plt.Figure | None:
    """Each split of ``claim`` as a panel: every run (dots) and mean ± 95 % CI per arm."""
    rows = result.table[result.table["claim"] == claim]
    splits = list(dict.fromkeys(rows["split"]))
    if not splits:
        return None
    cols = min(3, len(splits))
    nrows = math.ceil(len(splits) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, split in zip(axes.flat, splits, strict=False):
        part = rows[rows["split"] == split]
        arms = list(dict.fromkeys(part["arm"]))
        for i, arm in enumerate(arms):
            values = part.loc[part["arm"] == arm, "value"].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            ax.scatter(np.full(finite.size, i), finite, s=14, alpha=0.6, color="tab:gray")
            summary = mean_ci(finite)
            if summary.n:
                ax.errorbar(
                    i, summary.mean, yerr=summary.half_width, fmt="o", color="tab:blue", capsize=4
                )
        ax.set_xticks(range(len(arms)), arms, fontsize=8)
        metric = part["metric"].iloc[0] if "metric" in part else "value"
        better = "higher" if bool(part["higher_is_better"].iloc[0]) else "lower"
        ax.set_ylabel(f"{metric} ({better} is better)", fontsize=8)
        ax.set_title(split, fontsize=8)
    for ax in list(axes.flat)[len(splits) :]:
        ax.axis("off")
    fig.suptitle(f"Claim {claim}: {CLAIMS[claim].statement}", fontsize=9)
    fig.tight_layout()
    return fig


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _header(result: ClaimsResult) -> list[str]:
    b = result.budget
    lines = [
        f"Budget `{b.name}`: {b.seeds} seeds, models matched to about {b.params:,} parameters, "
        f"{b.steps} training steps per run (batch {b.batch_size}, Adam lr {b.lr:g}, clipping at "
        f"{b.clip_norm:g} unless a claim says otherwise).",
    ]
    if result.wall_time_s is not None:
        lines.append(f"Wall time of this run: {result.wall_time_s / 60:.1f} min.")
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
        "No significant difference is never read as equivalence; see docs/claims.md."
    )
    return lines


def _detail(verdict: ClaimVerdict) -> str:
    """The verdict's text without the verdict kind it starts with (shown in bold beside it)."""
    text = verdict.text
    if text.startswith(verdict.kind):
        text = text[len(verdict.kind) :].lstrip(": ")
    if not text or text.startswith(("on ", "(")):
        return text
    return f"— {text}"


def to_markdown(result: ClaimsResult, images: dict[int, str] | None = None) -> str:
    """The claims page as Markdown (``images`` maps a claim to its plot's file name)."""
    images = images or {}
    out = ["# Claims about LSTM and GRU, measured", "", *_header(result), ""]
    out += ["| # | claim | verdict |", "|---|---|---|"]
    for v in result.verdicts:
        out.append(f"| {v.claim} | {CLAIMS[v.claim].statement} | **{v.kind}** {_detail(v)} |")
    out += ["", PUBLISHED_CONTEXT, ""]
    for v in result.verdicts:
        claim = CLAIMS[v.claim]
        out += [f"## {v.claim}. {claim.statement}", "", f"*Experiment:* {claim.experiment}", ""]
        out += [f"**Verdict: {v.kind}.** {_detail(v)}", ""]
        if v.splits:
            out += ["| split | outcome | evidence (mean ± 95 % CI) |", "|---|---|---|"]
            for s in v.splits:
                evidence = "<br>".join(c.describe() for c in s.contrasts) or s.note
                out.append(f"| {s.split} | {s.outcome} | {evidence} |")
            out.append("")
        if v.claim in images:
            out += [f"![claim {v.claim}]({images[v.claim]})", ""]
    return "\n".join(out)


def to_html(result: ClaimsResult, pngs: dict[int, bytes]) -> str:
    """The claims page as one self-contained HTML file (plots inlined as data URIs)."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>rnnlab claims</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top;font-size:90%}.supported{color:#1a7f37}.refuted{color:#cf222e}"
        "img{max-width:100%}</style></head><body>",
        "<h1>Claims about LSTM and GRU, measured</h1>",
        *(f"<p>{e(line).replace('`', '')}</p>" for line in _header(result)),
        "<table><tr><th>#</th><th>claim</th><th>verdict</th></tr>",
    ]
    for v in result.verdicts:
        css = v.kind.split()[0]
        parts.append(
            f"<tr><td>{v.claim}</td><td>{e(CLAIMS[v.claim].statement)}</td>"
            f"<td class='{css}'><b>{e(v.kind)}</b> {e(_detail(v))}</td></tr>"
        )
    parts += ["</table>", f"<p><i>{e(PUBLISHED_CONTEXT)}</i></p>"]
    for v in result.verdicts:
        claim = CLAIMS[v.claim]
        parts += [
            f"<h2>{v.claim}. {e(claim.statement)}</h2>",
            f"<p><i>Experiment:</i> {e(claim.experiment)}</p>",
            f"<p><b>Verdict: {e(v.kind)}.</b> {e(v.text)}</p>",
        ]
        if v.splits:
            parts.append("<table><tr><th>split</th><th>outcome</th><th>evidence</th></tr>")
            for s in v.splits:
                evidence = "<br>".join(e(c.describe()) for c in s.contrasts) or e(s.note)
                parts.append(
                    f"<tr><td>{e(s.split)}</td><td>{e(s.outcome)}</td><td>{evidence}</td></tr>"
                )
            parts.append("</table>")
        if v.claim in pngs:
            data = base64.b64encode(pngs[v.claim]).decode()
            parts.append(f"<img alt='claim {v.claim}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


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
            pngs[v.claim] = _png(fig)
    images = {}
    for claim, data in pngs.items():
        name = f"claims-{claim}.png"
        _atomic_write(out / name, data)
        images[claim] = name
    paths = {"markdown": out / "claims.md", "html": out / "claims.html"}
    _atomic_write(paths["markdown"], to_markdown(result, images).encode())
    _atomic_write(paths["html"], to_html(result, pngs).encode())
    return paths


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)

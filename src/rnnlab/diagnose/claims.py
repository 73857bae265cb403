"""The nine claims about LSTM and GRU, and how each one's verdict is read from results.

Each claim has a statement, a short description of its experiment, and a verdict function
that reads a *claims table* (see :func:`rnnlab.diagnose.verdicts.contrast`): one row per run
with columns ``claim``, ``split``, ``arm``, ``seed``, ``status``, ``value`` (the metric the
claim reads on that split) and ``higher_is_better``. The experiments that fill the table are
declared in :mod:`rnnlab.diagnose.experiments`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from rnnlab.diagnose.verdicts import (
    CLAIM_A_BETTER,
    CLAIM_NOT_WORSE,
    INCONCLUSIVE,
    NO_DIFFERENCE,
    REFUTED,
    ClaimVerdict,
    Reading,
    SplitOutcome,
    VerdictFn,
    all_of,
    combine,
    contrast,
    read_contrast,
    splits_of,
)

#: Split-name prefixes of claim 7: the arm the claim favours on each kind of task.
FIXED_LENGTH, VARIABLE_LENGTH, GENERATION = "fixed-length", "variable-length", "generation"


def _claim_rows(table: pd.DataFrame, claim: int) -> pd.DataFrame:
    return table[table["claim"] == claim]


def _higher_is_better(rows: pd.DataFrame, split: str) -> bool:
    flags = rows.loc[rows["split"] == split, "higher_is_better"].dropna().unique()
    if len(flags) != 1:
        raise ValueError(f"split {split!r} must have one higher_is_better value, got {flags}")
    return bool(flags[0])


def _pairwise(
    claim: int, favoured: str, other: str, reading: Reading = CLAIM_A_BETTER
) -> VerdictFn:
    """Verdict of "``favoured`` beats ``other``" on every split of the claim."""

    def verdict(table: pd.DataFrame) -> ClaimVerdict:
        rows = _claim_rows(table, claim)
        outcomes = [
            read_contrast(
                contrast(
                    rows,
                    split,
                    "value",
                    favoured,
                    other,
                    higher_is_better=_higher_is_better(rows, split),
                ),
                reading,
            )
            for split in splits_of(rows, claim)
        ]
        return combine(claim, outcomes)

    return verdict


def _beats_all(
    claim: int, favoured: tuple[str, ...], others: tuple[str, ...], reading
) -> VerdictFn:
    """Verdict of "every ``favoured`` arm beats (or matches) every ``others`` arm" per split."""

    def verdict(table: pd.DataFrame) -> ClaimVerdict:
        rows = _claim_rows(table, claim)
        outcomes = []
        for split in splits_of(rows, claim):
            better = _higher_is_better(rows, split)
            present = set(rows.loc[rows["split"] == split, "arm"])
            parts = [
                read_contrast(
                    contrast(rows, split, "value", f, o, higher_is_better=better), reading
                )
                for f in favoured
                for o in others
                if f in present and o in present
            ]
            if not parts:
                outcomes.append(SplitOutcome(split, INCONCLUSIVE, (), "arms missing"))
            else:
                outcomes.append(all_of(split, parts))
        return combine(claim, outcomes)

    return verdict


def verdict_gating_prevents_vanishing(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 1: LSTM and GRU each beat the tanh RNN (slower gradient decay, longer horizon)."""
    return _beats_all(1, ("lstm", "gru"), ("rnn",), CLAIM_A_BETTER)(table)


def verdict_gru_cannot_explode(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 2: without clipping, GRU has fewer explosion events than LSTM, and none at all.

    ``value`` is a run's explosion score: its explosion events, plus one if it diverged
    (diverged runs are evidence here, not failures). GRU significantly lower: supported;
    LSTM significantly lower: refuted; otherwise refuted if GRU exploded in any run at least
    as often as LSTM on average (a counterexample to "cannot"), else no significant difference.
    """
    rows = _claim_rows(table, 2)
    outcomes = []
    for split in splits_of(rows, 2):
        c = contrast(
            rows, split, "value", "gru", "lstm", higher_is_better=False,
            statuses=("done", "diverged"),
        )  # fmt: skip
        outcome = read_contrast(c)
        gru_exploded_as_often = c.summary_a.mean > 0 and c.summary_b.mean <= c.summary_a.mean
        if outcome.outcome == NO_DIFFERENCE and gru_exploded_as_often:
            outcome = SplitOutcome(
                split, REFUTED, (c,), "GRU runs exploded at least as often as LSTM runs"
            )
        outcomes.append(outcome)
    return combine(2, outcomes)


def verdict_lstm_longer_memory(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 3: LSTM reaches a longer memory horizon / better long-range metric than GRU."""
    return _pairwise(3, "lstm", "gru")(table)


def verdict_gru_cheaper(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 4: GRU has fewer parameters, fewer FLOPs and a shorter time per step than LSTM."""
    return _pairwise(4, "gru", "lstm")(table)


def verdict_gru_converges_faster(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 5: GRU reaches the validation target in fewer steps / less time than LSTM."""
    return _pairwise(5, "gru", "lstm")(table)


def verdict_bidirectional_longer_memory(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 6: a bidirectional LSTM beats a unidirectional one at matched parameters."""
    return _pairwise(6, "bilstm", "lstm")(table)


def verdict_gru_fixed_lstm_variable(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 7: GRU wins on fixed-length tasks; LSTM on variable-length and generation tasks.

    The favoured arm of a split comes from its name's prefix (``fixed-length``,
    ``variable-length``, ``generation``).
    """
    rows = _claim_rows(table, 7)
    outcomes = []
    for split in splits_of(rows, 7):
        if split.startswith(FIXED_LENGTH):
            favoured, other = "gru", "lstm"
        elif split.startswith((VARIABLE_LENGTH, GENERATION)):
            favoured, other = "lstm", "gru"
        else:
            raise ValueError(
                f"claim 7 split {split!r} must start with {FIXED_LENGTH}, {VARIABLE_LENGTH} "
                f"or {GENERATION}"
            )
        better = _higher_is_better(rows, split)
        outcomes.append(
            read_contrast(contrast(rows, split, "value", favoured, other, higher_is_better=better))
        )
    return combine(7, outcomes)


def verdict_forget_bias_helps(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 8: LSTM with forget-gate bias 1 beats forget-gate bias 0."""
    return _pairwise(8, "forget_bias=1", "forget_bias=0")(table)


def verdict_tcn_matches_rnns(table: pd.DataFrame) -> ClaimVerdict:
    """Claim 9: TCN is not significantly worse than LSTM nor than GRU ("matches or beats")."""
    return _beats_all(9, ("tcn",), ("lstm", "gru"), CLAIM_NOT_WORSE)(table)


@dataclass(frozen=True)
class Claim:
    """A claim as users meet it, the experiment that tests it, and its verdict function."""

    number: int
    statement: str
    experiment: str
    verdict: VerdictFn


CLAIMS: dict[int, Claim] = {
    c.number: c
    for c in (
        Claim(
            1,
            "Gating (LSTM, GRU) prevents the vanishing gradients of a plain RNN.",
            "rnn vs lstm vs gru at matched parameters: per-step decay rate of ‖∂L/∂h_t‖ at "
            "initialization and after training (higher = less vanishing), and memory "
            "horizon on adding. Supported where both gated cells beat the tanh RNN.",
            verdict_gating_prevents_vanishing,
        ),
        Claim(
            2,
            "GRU's gates keep gradients from exploding, while LSTM's cannot.",
            "lstm vs gru trained without gradient clipping at the same (high) learning rates: "
            "explosion events (global gradient norm > 10× its running median) plus "
            "divergences per run.",
            verdict_gru_cannot_explode,
        ),
        Claim(
            3,
            "LSTM captures longer dependencies than GRU.",
            "lstm vs gru at matched parameters: memory horizon (longest length solved within a "
            "fixed step budget, by bisection) on copy memory and adding, and the task metric "
            "at fixed lengths.",
            verdict_lstm_longer_memory,
        ),
        Claim(
            4,
            "GRU has fewer parameters and is cheaper to compute.",
            "lstm vs gru at equal hidden size and at equal parameters: exact parameter count, "
            "analytic FLOPs per step, and measured time per step for each engine.",
            verdict_gru_cheaper,
        ),
        Claim(
            5,
            "GRU is easier to train: it converges faster.",
            "lstm vs gru at matched parameters: training steps and wall time until the "
            "validation metric first reaches a fixed target (runs that never reach it count "
            "the whole step budget).",
            verdict_gru_converges_faster,
        ),
        Claim(
            6,
            "A bidirectional LSTM captures long-term dependencies better than a "
            "unidirectional one.",
            "bilstm vs lstm at matched parameters on tasks where the whole sequence is seen "
            "before the answer (sequence-level regression/classification) and on a task "
            "scored causally.",
            verdict_bidirectional_longer_memory,
        ),
        Claim(
            7,
            "GRU suits fixed-length sequences; LSTM suits variable-length prediction and "
            "generation.",
            "lstm vs gru at matched parameters on fixed-length (mnist-rows), variable-length "
            "(japanese-vowels, spoken-digits) and generation (shakespeare, bits per "
            "character) tasks.",
            verdict_gru_fixed_lstm_variable,
        ),
        Claim(
            8,
            "A forget-gate bias of 1 helps LSTM learn long dependencies.",
            "lstm with forget_bias 0 vs 1 on copy memory and adding, same hidden size.",
            verdict_forget_bias_helps,
        ),
        Claim(
            9,
            "A temporal convolutional network matches or beats recurrent networks.",
            "tcn vs lstm vs gru at matched parameters on each task of the claims suite. "
            "Supported on a task where TCN is not significantly worse than either RNN.",
            verdict_tcn_matches_rnns,
        ),
    )
}


def judge(table: pd.DataFrame, notes: dict[int, list[str]] | None = None) -> list[ClaimVerdict]:
    """The verdict on every claim, from ``table``.

    ``notes`` lists, per claim, parts of its experiment that could not run (a dataset that is
    not installed, say); they are appended to the verdict, and a claim with no rows at all is
    inconclusive with those notes as the reason.
    """
    notes = notes or {}
    verdicts = []
    for number, claim in CLAIMS.items():
        rows = _claim_rows(table, number)
        extra = "; ".join(notes.get(number, []))
        if rows.empty:
            verdict = ClaimVerdict(number, INCONCLUSIVE, f"inconclusive: {extra or 'no runs'}")
        else:
            verdict = claim.verdict(rows)
            if extra:
                verdict = replace(verdict, text=f"{verdict.text} ({extra})")
        verdicts.append(verdict)
    return verdicts

"""Adaptive seeds: add seeds only where a comparison is still inconclusive, without letting
the repeated looks inflate the error rate (a group-sequential design with alpha spending).

A design is a list of *looks* (seeds per arm at which the data are examined, e.g. 3, 5, 7,
10) and a spending function (Lan & DeMets 1983) that says how much of ``alpha`` may have been
spent by the information fraction ``t = n / n_max``:

- O'Brien–Fleming type (default): ``α(t) = 2 − 2 Φ(z_{1−α/2} / √t)``, which spends almost
  nothing early (stop only for huge differences) and keeps most of ``alpha`` for the end;
- Pocock type: ``α(t) = α · ln(1 + (e − 1) t)``, which spends evenly.

Look ``k`` decides (:func:`rnnlab.compare.stats.decide`, both the difference test and TOST)
at the nominal level ``α(t_k) − α(t_{k−1})``. These levels sum to ``alpha``, so by the
union bound the chance of any false "better" over all looks is at most ``alpha``, whatever
the correlation between looks (slightly stricter than the exact group-sequential
boundaries, which exploit that correlation). A comparison stops at the first look that
decides it (better, or equivalent within the margin), or at the last look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from scipy import stats as sps

from rnnlab.compare.margins import Margin, default_margin
from rnnlab.compare.stats import ALPHA, INCONCLUSIVE, Decision, GroupVerdict, compare_groups, decide
from rnnlab.errors import UserInputError

SPENDING = ("obrien-fleming", "pocock")
#: Seeds per arm at the first look of ``--seeds auto``, and seeds added per look.
FIRST_LOOK, STEP = 3, 2


def spent(t: float, alpha: float = ALPHA, spending: str = "obrien-fleming") -> float:
    """Alpha spent by information fraction ``t`` (0 at t = 0, ``alpha`` at t = 1)."""
    if spending not in SPENDING:
        raise ValueError(f"spending must be one of {SPENDING}, got {spending!r}")
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    return float(2 - 2 * sps.norm.cdf(sps.norm.ppf(1 - alpha / 2) / math.sqrt(t)))


@dataclass(frozen=True)
class SequentialDesign:
    """Looks (seeds per arm, increasing) and how ``alpha`` is spent across them."""

    looks: tuple[int, ...]
    alpha: float = ALPHA
    spending: str = "obrien-fleming"

    def __post_init__(self) -> None:
        if not self.looks or any(b <= a for a, b in zip(self.looks, self.looks[1:], strict=False)):
            raise ValueError(f"looks must be increasing, got {self.looks}")
        if self.looks[0] < 2:
            raise ValueError("the first look needs at least 2 seeds per arm")
        spent(1.0, self.alpha, self.spending)  # validates the spending name

    @classmethod
    def up_to(
        cls, max_seeds: int, first: int = FIRST_LOOK, step: int = STEP, **options
    ) -> SequentialDesign:
        """Looks at ``first``, ``first + step``, ... and ``max_seeds`` seeds per arm (3, 5, 7, 10).

        Raises:
            UserInputError: ``max_seeds`` below ``first``.
        """
        if max_seeds < first:
            raise UserInputError(f"--max-seeds must be at least {first}, got {max_seeds}")
        # The last look comes at least ``step`` after the one before it: a last look one seed
        # later would get almost none of the alpha.
        looks = list(range(first, max_seeds - step + 1, step)) or [first]
        if looks[-1] != max_seeds:
            looks.append(max_seeds)
        return cls(tuple(looks), **options)

    def level(self, look: int) -> float:
        """Nominal alpha of look ``look`` (0-based): the alpha spent since the previous one."""
        n_max = self.looks[-1]
        before = self.looks[look - 1] / n_max if look else 0.0
        return spent(self.looks[look] / n_max, self.alpha, self.spending) - spent(
            before, self.alpha, self.spending
        )


def sequential_decide(
    values_at: Callable[[int], tuple[Sequence[float], Sequence[float]]],
    design: SequentialDesign,
    *,
    higher_is_better: bool,
    margin: float,
) -> tuple[Decision, int]:
    """Decide arms by the design: ``values_at(n)`` gives both arms' first ``n`` seeds.

    Returns the decision of the look that stopped and that look's seeds per arm.
    """
    for look, n in enumerate(design.looks):
        a, b = values_at(n)
        decision = decide(
            a, b, higher_is_better=higher_is_better, margin=margin, alpha=design.level(look)
        )
        if decision.outcome != INCONCLUSIVE:
            break
    return decision, n


@dataclass
class AdaptiveOutcome:
    """Where one comparison stopped: its seeds per model and the verdict of that look."""

    comparison: object  # rnnlab.compare.plan.Comparison
    seeds: int
    look: int
    level: float
    verdict: GroupVerdict


def run_adaptive(
    comparisons: Sequence,
    design: SequentialDesign,
    run: Callable[[list], Sequence],
    values: Callable[[object], Mapping[str, Sequence[float]]],
    *,
    margin: Margin | None = None,
) -> list[AdaptiveOutcome]:
    """Run ``comparisons`` look by look, adding seeds only to the undecided ones.

    ``run(comparisons)`` brings each comparison's runs to its ``seeds`` (the store skips
    finished runs, so earlier seeds are reused); ``values(planned)`` reads the per-model test
    metric of one planned comparison as ``run`` returned it. Each comparison's verdict (best
    model against the runner-up, :func:`rnnlab.compare.stats.compare_groups`) is taken at
    the look's nominal level.
    """
    from rnnlab.compare.tasks import get_task

    pending = list(comparisons)
    outcomes: dict[int, AdaptiveOutcome] = {}
    for look, n in enumerate(design.looks):
        current = [replace(c, seeds=n) for c in pending]
        planned = run(current)
        still = []
        for original, plan in zip(pending, planned, strict=True):
            spec = get_task(plan.comparison.task)
            verdict = compare_groups(
                values(plan),
                spec.higher_is_better,
                margin or default_margin(spec.metric),
                alpha=design.level(look),
            )
            outcomes[id(original)] = AdaptiveOutcome(
                plan.comparison, n, look, design.level(look), verdict
            )
            if verdict.decision is not None and verdict.decision.outcome == INCONCLUSIVE:
                still.append(original)
        pending = still
        if not pending:
            break
    return [outcomes[id(c)] for c in comparisons]


def stored_values(planned, store) -> dict[str, list[float]]:
    """Per model, the test metric of the finished final runs of one planned comparison."""
    from rnnlab.compare.tasks import get_task

    metric = f"test_{get_task(planned.comparison.task).metric}"
    values: dict[str, list[float]] = {}
    for unit in planned.final_units:
        row = store.get(unit.key)
        if row is not None and row.status == "done" and metric in row.metrics:
            values.setdefault(unit.config.model, []).append(float(row.metrics[metric]))
    return values

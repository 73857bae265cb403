"""Claim 4's speed evidence: an interleaved LSTM-vs-GRU micro-benchmark, run on its own.

Times of training runs executed in parallel measure the machine's load as much as the cells,
so claim 4 does not read them. After the study's runs have finished (the executor has
returned, no worker is training), the claims process times forward + backward of one LSTM and
one GRU layer at the claim's sizes (equal hidden size, and GRU at equal parameters), with
torch's native kernels and with the engine ``auto`` picks for training, using the benchmark
machinery of :mod:`rnnlab.bench`: in every round LSTM, GRU, LSTM and GRU again are called once
each in a shuffled order. The GRU/LSTM ratio is the median of the per-round ratios with a
bootstrap 95 % CI; the LSTM/LSTM and GRU/GRU pairs of the same rounds are same-kernel
controls, whose CIs set the noise floor; GRU is ``faster`` or ``slower`` only when the whole
CI lies beyond the floor, else ``parity`` (no difference shown, not proof of equality).

The result is written as JSON (:data:`SPEED_FILE`) into the claims store, and read back by the
verdicts and the claims page.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from rnnlab.bench import Ratio, noise_floor, paired_ratio, time_interleaved, verdict
from rnnlab.compare.cost import machine_load
from rnnlab.diagnose.experiments import Budget
from rnnlab.diagnose.experiments.planner import equal_params_hidden
from rnnlab.diagnose.experiments.planners import COST_INPUTS
from rnnlab.diagnose.verdicts import (
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    ClaimVerdict,
    SplitOutcome,
    combine,
)
from rnnlab.nn import CELLS, make_rnn
from rnnlab.nn.engines import LayerOptions, auto

SPEED_FILE = "claim4-speed.json"
"""The benchmark's results, in the claims store."""
SETTINGS = ("equal hidden size", "equal parameters")
WARMUP = 2
"""Untimed rounds first (C++ kernels load, allocators and caches warm up)."""
OUTCOMES = {"faster": SUPPORTED, "slower": REFUTED, "parity": INCONCLUSIVE}
"""How GRU's speed verdict reads for "GRU is cheaper" (parity shows no difference, which is
not evidence of equality: inconclusive)."""

Timer = Callable[..., list[list[float]]]
""":func:`rnnlab.bench.time_interleaved`'s signature: (calls, device, reps, warmup, rng)."""


@dataclass
class SpeedGroup:
    """LSTM against GRU at one setting with one choice of engine (times in milliseconds).

    ``engine`` is ``native`` or ``auto``; ``engines`` the engine each cell ran. ``ratio``
    (CI ``ratio_low``–``ratio_high``) is GRU's time over LSTM's, median over rounds;
    ``noise_floor`` is the widest reach of the two same-kernel controls' CIs; ``verdict`` is
    GRU's: ``faster``, ``slower`` or ``parity``.
    """

    setting: str
    engine: str
    engines: dict[str, str]
    hidden: dict[str, int]
    lstm_ms: list[float]
    gru_ms: list[float]
    ratio: float
    ratio_low: float
    ratio_high: float
    noise_floor: float | None
    verdict: str

    @property
    def split(self) -> str:
        """The split name of this group in claim 4's verdict."""
        engine = self.engine
        if engine == "auto":
            picked = dict.fromkeys(self.engines.values())
            engine = "auto (" + ", ".join(picked) + ")"
        return f"time per forward+backward, {engine} engine, {self.setting}"

    def outcome(self) -> SplitOutcome:
        """This group as a split of claim 4 (supported when GRU is faster beyond the floor)."""
        floor = f"±{self.noise_floor:.1%}" if self.noise_floor is not None else "none"
        note = (
            f"{self.verdict}: GRU/LSTM time {self.ratio:.3f} [{self.ratio_low:.3f}, "
            f"{self.ratio_high:.3f}] (median over {len(self.lstm_ms)} interleaved rounds, "
            f"LSTM {statistics.median(self.lstm_ms):.3g} ms, GRU "
            f"{statistics.median(self.gru_ms):.3g} ms); noise floor {floor} "
            "(same-kernel controls)"
        )
        return SplitOutcome(self.split, OUTCOMES[self.verdict], (), note)


@dataclass
class SpeedBenchmark:
    """Claim 4's speed benchmark: sizes, machine state, one group per setting and engine.

    ``load_per_core`` is the 1-minute load average per core at its start and end (None where
    the OS has none): above 1, other processes competed for the cores.
    """

    length: int
    batch_size: int
    input_size: int
    rounds: int
    threads: int
    seconds: float
    load_per_core: list[float] | None
    groups: list[SpeedGroup] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Whether the machine was busy (load above the core count) while it ran."""
        return bool(self.load_per_core) and max(self.load_per_core) > 1

    def describe(self) -> str:
        """One sentence: how it was measured (sizes, rounds, threads, wall time, load)."""
        text = (
            f"Speed measured apart from the training runs, after they finished: forward + "
            f"backward at T={self.length}, batch {self.batch_size}, input {self.input_size}, "
            f"{self.rounds} interleaved rounds (shuffled order), {self.threads} torch "
            f"thread (as each training run), {self.seconds:.1f} s in all."
        )
        if self.busy:
            text += (
                f" **Warning: the machine was busy** (load {max(self.load_per_core):.1f} per "
                "core): ratios measured in shared rounds hold up better than times, but take "
                "them with care."
            )
        return text

    def save(self, path: str | Path) -> None:
        """Write the benchmark as JSON (atomically: a killed run leaves no half file)."""
        path = Path(path)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2))
        temporary.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> SpeedBenchmark:
        """Read a benchmark written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        groups = [SpeedGroup(**g) for g in data.pop("groups")]
        return cls(**data, groups=groups)


def _train_call(cell: str, hidden: int, engine: str, x: torch.Tensor) -> Callable[[], None]:
    rnn = make_rnn(cell, COST_INPUTS, hidden, engine=engine)

    def call() -> None:
        output, _ = rnn(x)
        output.sum().backward()

    return call


def _auto_engines() -> dict[str, str]:
    probe = torch.empty(1, 1, COST_INPUTS)
    return {
        cell: auto.choose(CELLS[cell], LayerOptions(), probe, training=True, stacked_dropout=False)
        for cell in ("lstm", "gru")
    }


def _group(
    setting: str,
    engine: str,
    engines: dict[str, str],
    hidden: dict[str, int],
    times: Sequence[Sequence[float]],
) -> SpeedGroup:
    """A group from the rounds ``times`` = [lstm, gru, lstm again, gru again] in seconds."""
    lstm, gru, lstm_again, gru_again = times
    ratio = paired_ratio(gru, lstm)
    floor = noise_floor([paired_ratio(lstm_again, lstm), paired_ratio(gru_again, gru)])
    return SpeedGroup(
        setting=setting,
        engine=engine,
        engines=engines,
        hidden=hidden,
        lstm_ms=[t * 1e3 for t in lstm],
        gru_ms=[t * 1e3 for t in gru],
        ratio=ratio.median,
        ratio_low=ratio.low,
        ratio_high=ratio.high,
        noise_floor=floor,
        verdict=verdict(Ratio(ratio.median, ratio.low, ratio.high), floor),
    )


def measure_speed(
    budget: Budget, *, timer: Timer = time_interleaved, seed: int = 0
) -> SpeedBenchmark:
    """Time LSTM against GRU at claim 4's sizes of ``budget`` (see the module docstring).

    ``timer`` times the calls in interleaved rounds (:func:`rnnlab.bench.time_interleaved`;
    tests give a fake one). Call it only when no training runs beside it.
    """
    start, loads = time.perf_counter(), [machine_load()]
    x = torch.randn(
        budget.cost_length, budget.batch_size, COST_INPUTS,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    picked = _auto_engines()
    choices = {"native": {"lstm": "native", "gru": "native"}}
    if set(picked.values()) != {"native"}:
        choices["auto"] = picked
    rng = random.Random(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each training run; more threads than free cores stall
    try:
        groups = _measure(budget, x, choices, timer, rng)
    finally:
        torch.set_num_threads(threads)
    loads.append(machine_load())
    per_core = [x["load_average"] / x["cpus"] for x in loads if x["load_average"] and x["cpus"]]
    return SpeedBenchmark(
        length=budget.cost_length,
        batch_size=budget.batch_size,
        input_size=COST_INPUTS,
        rounds=budget.speed_rounds,
        threads=1,
        seconds=time.perf_counter() - start,
        load_per_core=per_core or None,
        groups=groups,
    )


def _measure(
    budget: Budget,
    x: torch.Tensor,
    choices: dict[str, dict[str, str]],
    timer: Timer,
    rng: random.Random,
) -> list[SpeedGroup]:
    """One group per setting and engine choice, each timed in its own interleaved rounds."""
    groups = []
    for setting in SETTINGS:
        hidden = {"lstm": budget.cost_hidden, "gru": budget.cost_hidden}
        if setting == "equal parameters":
            hidden["gru"] = equal_params_hidden("gru", "lstm", COST_INPUTS, budget.cost_hidden)
        for engine, engines in choices.items():
            lstm = _train_call("lstm", hidden["lstm"], engines["lstm"], x)
            gru = _train_call("gru", hidden["gru"], engines["gru"], x)
            times = timer([lstm, gru, lstm, gru], torch.device("cpu"), reps=budget.speed_rounds,
                          warmup=WARMUP, rng=rng)  # fmt: skip
            groups.append(_group(setting, engine, engines, hidden, times))
    return groups


def with_speed(verdicts: list[ClaimVerdict], speed: SpeedBenchmark | None) -> list[ClaimVerdict]:
    """``verdicts`` with claim 4's speed splits added from ``speed`` (an inconclusive split
    when the benchmark has not run); other claims unchanged."""
    if speed is None:
        added = [SplitOutcome("time per forward+backward", INCONCLUSIVE, (),
                              "speed benchmark not run yet (run `rnnlab claims`)")]  # fmt: skip
    else:
        added = [g.outcome() for g in speed.groups]
    return [combine(4, [*v.splits, *added]) if v.claim == 4 else v for v in verdicts]

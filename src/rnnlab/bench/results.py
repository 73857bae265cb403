"""The benchmark's results as dataclasses, and their JSON file (written and read back)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

_D = TypeVar("_D")
SCHEMA = 3
"""Version of the JSON layout: 2 added extension warm-up, saved bytes and scaling curves; 3 every
sample (paired), ratio CIs, same-kernel controls, noise floors and verdicts."""


@dataclass
class CaseResult:
    """One row of the benchmark table (times in milliseconds, memory in MiB).

    ``memory_mib`` is what the report's ``memory_measure`` says (peak bytes allocated during a
    call in schema 2; bytes saved for backward in schema 1 files). ``saved_mib`` (schema 2) is
    the bytes autograd saves for backward, None for forward and in older files. ``path``
    (schema 2) is the loop engine's path (``cpp``, ``fused`` or ``generic``) or the scan
    engine's (``cpp`` or ``chunked``), else None.

    Schema 3: ``samples_ms`` and ``baseline_samples_ms`` are every timed call of the case and
    of its torch.nn baseline, index ``i`` of both measured in the same shuffled round (a pair);
    ``ratio`` is the median of the per-pair ratios and ``ratio_low``/``ratio_high`` its 95 %
    bootstrap CI. ``control`` marks a same-kernel row (torch.nn against itself, native against
    torch.nn); ``noise_floor`` is the widest reach of the controls' CIs at this size and mode,
    and ``verdict`` (``faster``, ``slower``, ``parity``; ``control`` for a control) compares the
    ratio's CI with it. For the GRU cells (baseline nn.GRU), ``lstm_samples_ms`` are nn.LSTM's
    calls in the same rounds and ``lstm_flop_ratio`` (CI ``lstm_flop_low``–``lstm_flop_high``)
    the case's time per FLOP over nn.LSTM's. ``auto``: ``engine="auto"`` runs this engine for
    this cell, device and mode (as decided where the benchmark ran).
    """

    variant: str
    engine: str
    size: tuple[int, int, int, int]
    mode: str
    median_ms: float
    min_ms: float
    max_ms: float
    first_ms: float
    per_step_us: float
    ratio: float | None
    baseline: str
    gflops: float
    peak_fraction: float
    memory_mib: float
    reps: int
    saved_mib: float | None = None
    path: str | None = None
    samples_ms: list[float] = field(default_factory=list)
    baseline_samples_ms: list[float] = field(default_factory=list)
    ratio_low: float | None = None
    ratio_high: float | None = None
    control: bool = False
    noise_floor: float | None = None
    verdict: str | None = None
    lstm_samples_ms: list[float] | None = None
    lstm_flop_ratio: float | None = None
    lstm_flop_low: float | None = None
    lstm_flop_high: float | None = None
    auto: bool = False

    @property
    def path_label(self) -> str:
        """The code path that ran: ``loop-cpp``, ``scan-chunked``, ``native``, ``torch``..."""
        return f"{self.engine}-{self.path}" if self.path else self.engine


@dataclass
class ExtensionWarmup:
    """Warm-up of one family's C++ kernel library, paid before any timing.

    Attributes:
        family: the library (``lstm``, ``gru``, ``rnn``).
        available: the library is loaded; when False the loop engine ran its PyTorch kernels.
        seconds: wall time this process spent compiling (``built``) or loading it.
        built: True when this process compiled it, False when it loaded the cached build.
        reason: why it is unavailable (None when available).
        directory: the build cache directory.
        unchanged_after_run: after the last case, the library was still the one loaded at the
            start (same cached status, file not rewritten): no size, length or batch rebuilt or
            reloaded it. None until checked.
    """

    family: str
    available: bool
    seconds: float
    built: bool
    reason: str | None
    directory: str
    unchanged_after_run: bool | None = None


@dataclass
class ScalingPoint:
    """Forward+backward time of one curve (``cell/engine``) at one size of a sweep; schema 3
    keeps every call (``samples_ms``, round ``i`` of every curve at this size measured
    together in shuffled order)."""

    curve: str
    axis: str
    size: tuple[int, int, int, int]
    median_ms: float
    min_ms: float
    max_ms: float
    samples_ms: list[float] = field(default_factory=list)


@dataclass
class ScalingCurves:
    """Time vs T, H and B: the points measured (in sweep order) and the PNG drawn from them."""

    png: str
    reps: int
    points: list[ScalingPoint] = field(default_factory=list)
    device: str = "cpu"
    threads: int = 0


@dataclass
class BenchReport:
    """The whole run: machine facts, extension warm-up, one row per case, scaling curves.

    ``load_average`` is the machine's 1-minute load average at the start and the end of the
    table's timing (None where the OS has none): above ``cpus`` other processes competed for
    the cores, and times (not so much the ratios measured in shared rounds) are unreliable.
    ``order_seed`` seeds the shuffling of the order within every round (schema 3).
    """

    device: str
    threads: int
    torch_version: str
    machine: str
    peak_gemm_gflops: float
    memory_measure: str
    results: list[CaseResult] = field(default_factory=list)
    extensions: list[ExtensionWarmup] = field(default_factory=list)
    scaling: ScalingCurves | None = None
    schema: int = SCHEMA
    cpus: int | None = None
    load_average: list[float] | None = None
    order_seed: int | None = None

    def to_json(self, path: str | Path) -> None:
        """Write the report as JSON (rows under ``results``)."""
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    def add_scaling(self, curves: ScalingCurves, warmups: Iterable[ExtensionWarmup]) -> None:
        """Attach scaling curves, and the warm-up of any library only the curves needed."""
        self.scaling = curves
        known = {w.family for w in self.extensions}
        self.extensions += [w for w in warmups if w.family not in known]


def _dataclass_from(cls: type[_D], data: dict[str, Any]) -> _D:
    """``cls(**data)``, ignoring keys that ``cls`` does not have (files from newer versions)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def load_report(path: str | Path) -> BenchReport:
    """Read a report written by :meth:`BenchReport.to_json` (any schema; 1 had no ``schema``)."""
    data = json.loads(Path(path).read_text())
    rows = [
        _dataclass_from(CaseResult, {**row, "size": tuple(row["size"])})
        for row in data.pop("results")
    ]
    warmups = [_dataclass_from(ExtensionWarmup, w) for w in data.pop("extensions", [])]
    scaling = data.pop("scaling", None)
    if scaling is not None:
        points = [
            _dataclass_from(ScalingPoint, {**p, "size": tuple(p["size"])})
            for p in scaling.pop("points")
        ]
        scaling = _dataclass_from(ScalingCurves, {**scaling, "points": points})
    data.setdefault("schema", 1)
    if data["schema"] == 1 and data["memory_measure"].startswith("bytes saved"):
        # Schema 1 on CPU had no peak memory: its memory column was the saved bytes.
        data["memory_measure"] = "no peak memory on CPU in schema 1; saved: bytes autograd saves"
        for row in rows:
            row.saved_mib = row.memory_mib if row.mode == "train" else None
            row.memory_mib = 0.0
    return _dataclass_from(
        BenchReport, {**data, "results": rows, "extensions": warmups, "scaling": scaling}
    )

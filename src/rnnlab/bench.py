"""Speed benchmark of every cell and engine against torch.nn, measured side by side.

One *case* is (cell variant, engine, size, mode). A case times one layer and one direction
through the engine's ``run`` function (the contract of :mod:`rnnlab.nn.engines.base`), which is
what a ``Recurrent`` layer calls per layer and direction. Its baseline is the torch.nn module of
the cell's family (``nn.LSTM`` for the LSTM forms, ``nn.GRU`` for the GRU forms and minGRU /
minLSTM, ``nn.RNN`` for the Elman forms and IndRNN) at the same (T, B, I, H), timed in the same
process alternately with the case, call by call, so ratios compare like with like even on a busy
machine.

Measures, per case:

- time per call: median and min-max over ``reps`` timed calls after ``warmup`` untimed calls;
  ``forward`` runs under ``torch.no_grad()`` (inference), ``train`` is forward + backward of
  ``output.sum() + h_n.sum()`` with gradients for input, state and weights;
- time per step (median / T), ratio to the torch.nn baseline (median / median);
- GFLOP/s from ``CellSpec.flops_per_step`` (matrix products only; forward + backward counted as
  3x forward, the usual convention) and its fraction of this machine's peak FP32 GEMM rate,
  measured at the start of the run with square ``torch.mm``;
- peak memory: the peak of the bytes torch allocates during one call, above what was allocated
  when it started: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU (where torch keeps no
  allocator statistics) the running sum of the allocation and free events the profiler records
  with ``profile_memory=True``. It is not process RSS. For ``train`` also the bytes of the
  distinct storages autograd saves for backward (``saved_tensors_hooks``), the part of training
  memory that grows with T.

Warm-up: the loop engine's C++ kernels (:mod:`rnnlab.nn.kernels.extension`) are compiled once
per machine and loaded once per process. :func:`run_benchmark` loads the libraries its cases
need *before* timing and reports, per family, whether they are available, the seconds spent
building or loading and whether they were built or loaded from the cache; after the last case
it checks that no size or batch made them reload or rebuild (same cached status, library file
untouched). The first timed call of every case is also kept, as ``first_ms``.

:func:`scaling_curves` times forward+backward against T, H and B at real sizes and draws them
as a log-log PNG; the points are kept in the report (``BenchReport.scaling``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from rnnlab.nn.cells import CELLS, CellSpec
from rnnlab.nn.engines import ENGINE_SUPPORTS, ENGINES, LayerOptions, StepMasks, scan
from rnnlab.nn.engines.loop import CPP_KERNELS, kernel_path
from rnnlab.nn.kernels import extension

_D = TypeVar("_D")
SCHEMA = 2
"""Version of the JSON layout: 2 added extension warm-up, saved bytes and scaling curves."""
MODES = ("forward", "train")
SIZES: tuple[tuple[int, int, int, int], ...] = (
    (100, 64, 64, 128),
    (100, 64, 256, 256),
    (1000, 16, 1, 64),
)
QUICK_SIZES = ((100, 64, 64, 128),)


@dataclass(frozen=True)
class Variant:
    """A cell with layer options, e.g. ``lstm+layer_norm``."""

    cell: str
    layer_norm: bool = False
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0

    @property
    def name(self) -> str:
        extras = [
            label
            for label, on in (
                ("ln", self.layer_norm),
                (f"rd{self.recurrent_dropout:g}", self.recurrent_dropout),
                (f"zo{self.zoneout:g}", self.zoneout),
            )
            if on
        ]
        return "+".join([self.cell, *extras])

    @property
    def options(self) -> LayerOptions:
        return LayerOptions(
            layer_norm=self.layer_norm,
            recurrent_dropout=self.recurrent_dropout,
            zoneout=self.zoneout,
        )


def _lstm_and_gru_forms(cell: str) -> tuple[Variant, ...]:
    """The plain cell and its LayerNorm, recurrent-dropout and zoneout forms."""
    return (
        Variant(cell),
        Variant(cell, layer_norm=True),
        Variant(cell, recurrent_dropout=0.25),
        Variant(cell, zoneout=0.1),
    )


# Every variant issue 7 sets a target for.
VARIANTS: tuple[Variant, ...] = (
    *_lstm_and_gru_forms("lstm"),
    Variant("lstm-peephole"),
    Variant("lstm-cifg"),
    *_lstm_and_gru_forms("gru"),
    Variant("gru-cho"),
    Variant("rnn-tanh"),
    Variant("rnn-relu"),
    Variant("indrnn"),
    Variant("mingru"),
    Variant("minlstm"),
)
QUICK_VARIANTS: tuple[Variant, ...] = (
    Variant("lstm"),
    Variant("lstm-peephole"),
    Variant("gru"),
    Variant("rnn-tanh"),
    Variant("mingru"),
)
QUICK_ENGINES = ("native", "loop", "scan")


@dataclass
class CaseResult:
    """One row of the benchmark table (times in milliseconds, memory in MiB).

    ``memory_mib`` is what the report's ``memory_measure`` says (peak bytes allocated during a
    call in schema 2; bytes saved for backward in schema 1 files). ``saved_mib`` (schema 2) is
    the bytes autograd saves for backward, None for forward and in older files. ``path``
    (schema 2) is the loop engine's path (``cpp``, ``fused`` or ``generic``) or the scan
    engine's (``cpp`` or ``chunked``), else None.
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
    """Forward+backward time of one curve (``cell/engine``) at one size of a sweep."""

    curve: str
    axis: str
    size: tuple[int, int, int, int]
    median_ms: float
    min_ms: float
    max_ms: float


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
    the cores, and times (not so much the alternately measured ratios) are unreliable.
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

    def to_json(self, path: str | Path) -> None:
        """Write the report as JSON (rows under ``results``)."""
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    def add_scaling(self, curves: ScalingCurves, warmups: Iterable[ExtensionWarmup]) -> None:
        """Attach scaling curves, and the warm-up of any library only the curves needed."""
        self.scaling = curves
        known = {w.family for w in self.extensions}
        self.extensions += [w for w in warmups if w.family not in known]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    fn: Callable[[], object], device: torch.device, *, reps: int, warmup: int
) -> tuple[list[float], float]:
    """Seconds of ``reps`` timed calls after ``warmup`` untimed ones, and the first call's time."""
    first = 0.0
    for i in range(max(warmup, 1)):
        start = time.perf_counter()
        fn()
        _sync(device)
        if i == 0:
            first = time.perf_counter() - start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times, first


def time_alternately(
    calls: Sequence[Callable[[], object]], device: torch.device, *, reps: int, warmup: int
) -> list[list[float]]:
    """Seconds of ``reps`` timed calls of each of ``calls``, taken in turn call by call.

    Alternating means a change of machine load during the measurement hits every call alike,
    so their ratio stays meaningful on a shared machine.
    """
    for _ in range(warmup):
        for fn in calls:
            fn()
            _sync(device)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(reps):
        for fn, out in zip(calls, times, strict=True):
            start = time.perf_counter()
            fn()
            _sync(device)
            out.append(time.perf_counter() - start)
    return times


def peak_gemm_gflops(device: torch.device, *, size: int = 1024, reps: int = 3) -> float:
    """Best FP32 GFLOP/s of a square ``torch.mm`` on this machine right now."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    times, _ = time_calls(lambda: torch.mm(a, b), device, reps=reps, warmup=2)
    return 2 * size**3 / min(times) / 1e9


def extension_families(
    variants: Iterable[Variant], engines: Iterable[str] | None, device: str | torch.device
) -> list[str]:
    """The C++ kernel libraries the loop and scan engines load for ``variants`` on ``device``."""
    if torch.device(device).type != "cpu":
        return []
    families = {
        family
        for v in variants
        for engine in applicable_engines(v, engines)
        if (family := _cpp_family(v, engine)) is not None
    }
    return sorted(families & set(extension.FAMILIES))


def _cpp_family(variant: Variant, engine: str) -> str | None:
    """The C++ library ``engine`` runs ``variant`` with on the CPU, if any."""
    if engine == "loop" and variant.cell in CPP_KERNELS:
        return CPP_KERNELS[variant.cell][0]
    if engine == "scan":
        return scan.CPP_FAMILY
    return None


def _library_files(directory: str) -> dict[str, int]:
    """Modification times (ns) of the built libraries in an extension cache directory."""
    if not directory:
        return {}
    return {str(p): p.stat().st_mtime_ns for p in Path(directory).glob("*.so")}


def warm_up_extensions(families: Iterable[str]) -> list[ExtensionWarmup]:
    """Load (building if needed) each family's C++ library now, so no timing includes it."""
    warmups = []
    for family in families:
        status = extension.status(family)
        warmups.append(
            ExtensionWarmup(
                family=family,
                available=status.available,
                seconds=status.seconds,
                built=status.built,
                reason=status.reason,
                directory=status.directory,
            )
        )
    return warmups


@contextlib.contextmanager
def _libraries_unchanged(warmups: list[ExtensionWarmup]) -> Iterator[None]:
    """Around a run: afterwards, set ``unchanged_after_run`` of every warm-up."""
    before = {w.family: (extension.status(w.family), _library_files(w.directory)) for w in warmups}
    yield
    for w in warmups:
        status, files = before[w.family]
        w.unchanged_after_run = (
            extension.status(w.family) is status and _library_files(w.directory) == files
        )


def _baseline_module(spec: CellSpec, input_size: int, hidden: int) -> tuple[str, torch.nn.Module]:
    if spec.has_cell_state:
        return "nn.LSTM", torch.nn.LSTM(input_size, hidden)
    if spec.name in ("rnn-tanh", "rnn-relu", "indrnn"):
        nonlinearity = "tanh" if spec.name == "rnn-tanh" else "relu"
        return f"nn.RNN({nonlinearity})", torch.nn.RNN(
            input_size, hidden, nonlinearity=nonlinearity
        )
    return "nn.GRU", torch.nn.GRU(input_size, hidden)


class _SavedBytes:
    """Counts distinct storages autograd saves for backward while active."""

    def __init__(self) -> None:
        self.storages: dict[int, int] = {}

    def pack(self, tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def mib(self) -> float:
        return sum(self.storages.values()) / 2**20


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Discard what C++ code writes to file descriptor 2 (kineto logs profiler start/stop)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cpu_peak_mib(call: Callable[[], object]) -> float:
    """Peak of the running sum of the CPU allocations and frees the profiler records in a call."""
    from torch.profiler import ProfilerActivity, profile

    profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _stderr_silenced():
        profiler.__enter__()
    try:
        call()
    finally:
        with _stderr_silenced():
            profiler.__exit__(None, None, None)
    events = profiler.profiler.kineto_results.events()
    changes = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    running = peak = 0
    for _, nbytes in changes:
        running += nbytes
        peak = max(peak, running)
    return peak / 2**20


def _measure_memory(
    call: Callable[[], object], device: torch.device, mode: str
) -> tuple[float, float | None]:
    """MiB of one call: peak allocated above the start, and (train) bytes saved for backward."""
    counter = _SavedBytes()

    def counted_call() -> None:
        with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
            call()

    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        counted_call()
        _sync(device)
        peak = (torch.cuda.max_memory_allocated(device) - start) / 2**20
    else:
        peak = _cpu_peak_mib(counted_call)
    return peak, None if mode == "forward" else counter.mib


def _make_inputs(
    variant: Variant, size: tuple[int, int, int, int], device: torch.device, seed: int
) -> tuple[Tensor, tuple[Tensor, ...], dict[str, Tensor], StepMasks]:
    spec = CELLS[variant.cell]
    steps, batch, input_size, hidden = size
    gen = torch.Generator().manual_seed(seed)
    bound = hidden**-0.5
    params = {
        name: ((torch.rand(shape, generator=gen) * 2 - 1) * bound).to(device).requires_grad_()
        for name, shape in spec.param_shapes(
            input_size, hidden, layer_norm=variant.layer_norm
        ).items()
    }
    x = torch.randn(steps, batch, input_size, generator=gen).to(device).requires_grad_()
    state = tuple(torch.zeros(batch, s, device=device) for s in spec.state_sizes(hidden))
    recurrent = zoneout = None
    if variant.recurrent_dropout:
        keep = 1 - variant.recurrent_dropout
        recurrent = (torch.rand(batch, hidden, generator=gen) < keep).float().to(device) / keep
    if variant.zoneout:
        zoneout = tuple(
            (torch.rand(steps, batch, s, generator=gen) < variant.zoneout).float().to(device)
            for s in spec.state_sizes(hidden)
        )
    return x, state, params, StepMasks(recurrent=recurrent, zoneout=zoneout)


def _call(fn: Callable[[], tuple[Tensor, tuple[Tensor, ...]]], mode: str) -> Callable[[], None]:
    def forward() -> None:
        with torch.no_grad():
            fn()

    def train() -> None:
        output, final = fn()
        loss = output.sum() + sum(s.sum() for s in final)
        loss.backward()

    return forward if mode == "forward" else train


def _engine_call(
    variant: Variant, engine: str, size: tuple[int, int, int, int], device: torch.device, mode: str
) -> tuple[Callable[[], None], str | None]:
    """One call of ``engine``'s ``run`` for ``variant`` at ``size`` in ``mode`` (fixed inputs),
    and the path the loop engine (``cpp``, ``fused`` or ``generic``) or the scan engine
    (``cpp`` or ``chunked``) takes."""
    x, state, params, masks = _make_inputs(variant, size, device, seed=0)
    spec, run = CELLS[variant.cell], ENGINES[engine]

    def fn() -> tuple[Tensor, tuple[Tensor, ...]]:
        return run(spec, x, state, params, lengths=None, reverse=False, masks=masks)

    path = None
    if engine == "loop":
        path = kernel_path(spec, params, masks, x)
    elif engine == "scan":
        path = scan.kernel_path(x)
    return _call(fn, mode), path


def _baseline_fn(
    module: torch.nn.Module, x: Tensor
) -> Callable[[], tuple[Tensor, tuple[Tensor, ...]]]:
    def fn() -> tuple[Tensor, tuple[Tensor, ...]]:
        output, final = module(x)
        return output, final if isinstance(final, tuple) else (final,)

    return fn


def applicable_engines(variant: Variant, engines: Iterable[str] | None = None) -> list[str]:
    """Registered engines (in ``engines`` order if given) that support the variant."""
    spec = CELLS[variant.cell]
    names = list(engines) if engines is not None else ["native", "scan", "loop", "reference"]
    return [n for n in names if n in ENGINES and ENGINE_SUPPORTS[n](spec, variant.options)]


def run_benchmark(
    *,
    variants: Iterable[Variant] = VARIANTS,
    sizes: Iterable[tuple[int, int, int, int]] = SIZES,
    modes: Iterable[str] = MODES,
    engines: Iterable[str] | None = None,
    device: str | torch.device = "cpu",
    reps: int = 5,
    warmup: int = 1,
    slow_reps: int = 2,
    on_result: Callable[[CaseResult], None] | None = None,
) -> BenchReport:
    """Time every applicable (variant, engine) at every size and mode.

    The C++ kernel libraries the cases need are loaded first and reported in
    ``BenchReport.extensions``, so their build or load time is in no case's time.
    ``slow_reps`` is used instead of ``reps`` for the ``reference`` engine, whose per-step
    autograd records make it the slowest by far. ``on_result`` is called after each case
    (progress display).
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False")
    variants, sizes, modes = list(variants), list(sizes), list(modes)
    engines = list(engines) if engines is not None else None
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown mode(s) {unknown}: expected some of {list(MODES)}")
    report = BenchReport(
        device=str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        threads=torch.get_num_threads(),
        torch_version=torch.__version__,
        machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
        peak_gemm_gflops=peak_gemm_gflops(device),
        memory_measure=(
            "peak bytes allocated during one call above the start (MiB): "
            + (
                "torch.cuda.max_memory_allocated"
                if device.type == "cuda"
                else "running sum of the profiler's CPU allocation events"
            )
            + "; saved: bytes autograd saves for backward (train)"
        ),
        extensions=warm_up_extensions(extension_families(variants, engines, device)),
        cpus=os.cpu_count(),
    )
    load_start = _load_average()
    with _libraries_unchanged(report.extensions):
        for size in sizes:
            for mode in modes:
                _time_size_and_mode(
                    report, variants, size, mode, engines, device, reps, warmup, slow_reps,
                    on_result,
                )  # fmt: skip
    if load_start is not None:
        report.load_average = [load_start, _load_average() or 0.0]
    return report


def _load_average() -> float | None:
    """The 1-minute load average, or None where the OS does not report one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _time_size_and_mode(
    report: BenchReport,
    variants: list[Variant],
    size: tuple[int, int, int, int],
    mode: str,
    engines: list[str] | None,
    device: torch.device,
    reps: int,
    warmup: int,
    slow_reps: int,
    on_result: Callable[[CaseResult], None] | None,
) -> None:
    """Append the rows of one (size, mode): each family's torch.nn baseline, then the cases."""
    steps, batch, input_size, hidden = size
    baselines: dict[str, Callable[[], object]] = {}
    for variant in variants:
        spec = CELLS[variant.cell]
        base_name, module = _baseline_module(spec, input_size, hidden)
        if base_name not in baselines:
            module = module.to(device)
            x_base = torch.randn(steps, batch, input_size, device=device, requires_grad=True)
            baselines[base_name] = _call(_baseline_fn(module, x_base), mode)
            times, first = time_calls(baselines[base_name], device, reps=reps, warmup=warmup)
            memory = _measure_memory(baselines[base_name], device, mode)
            report.results.append(
                _row(base_name, "torch", size, mode, times, first, statistics.median(times),
                     base_name, spec, report.peak_gemm_gflops, memory)
            )  # fmt: skip
            if on_result:
                on_result(report.results[-1])
        for engine in applicable_engines(variant, engines):
            call, path = _engine_call(variant, engine, size, device, mode)
            n = slow_reps if engine == "reference" else reps
            _, first = time_calls(call, device, reps=0, warmup=warmup)
            # The ratio's torch.nn time is measured alternately with this case.
            base_times, times = time_alternately(
                [baselines[base_name], call], device, reps=n, warmup=0
            )
            memory = _measure_memory(call, device, mode)
            row = _row(variant.name, engine, size, mode, times, first,
                       statistics.median(base_times), base_name, spec, report.peak_gemm_gflops,
                       memory)  # fmt: skip
            row.path = path
            report.results.append(row)
            if on_result:
                on_result(report.results[-1])


def _row(
    name: str,
    engine: str,
    size: tuple[int, int, int, int],
    mode: str,
    times: list[float],
    first: float,
    baseline: float,
    base_name: str,
    spec: CellSpec,
    peak: float,
    memory: tuple[float, float | None],
) -> CaseResult:
    steps, batch, input_size, hidden = size
    median = statistics.median(times)
    if engine == "torch":
        # The baseline row's arithmetic is that of the torch module's own cell.
        spec = CELLS[{"nn.LSTM": "lstm", "nn.GRU": "gru"}.get(base_name, "rnn-tanh")]
    flops = spec.flops_per_step(input_size, hidden) * batch * steps * (3 if mode == "train" else 1)
    gflops = flops / median / 1e9
    return CaseResult(
        variant=name,
        engine=engine,
        size=size,
        mode=mode,
        median_ms=median * 1e3,
        min_ms=min(times) * 1e3,
        max_ms=max(times) * 1e3,
        first_ms=first * 1e3,
        per_step_us=median / steps * 1e6,
        ratio=median / baseline if baseline else None,
        baseline=base_name,
        gflops=gflops,
        peak_fraction=gflops / peak if peak else 0.0,
        memory_mib=memory[0],
        saved_mib=memory[1],
        reps=len(times),
    )


_AXIS_POSITION = {"T": 0, "B": 1, "H": 3}
"""Index in (T, B, I, H) of each axis a sweep can vary."""


@dataclass(frozen=True)
class Sweep:
    """One panel of the scaling curves: ``axis`` (T, H or B) takes ``values`` around ``base``."""

    axis: str
    base: tuple[int, int, int, int]
    values: tuple[int, ...]

    def sizes(self) -> list[tuple[int, int, int, int]]:
        """(T, B, I, H) of every point."""
        position = _AXIS_POSITION[self.axis]
        return [
            tuple(v if k == position else b for k, b in enumerate(self.base))  # type: ignore[misc]
            for v in self.values
        ]


# Around issue 7's sizes: the long sequence (1000, 16, 1, 64) and the moderate (100, 64, 64, ·).
SWEEPS: tuple[Sweep, ...] = (
    Sweep("T", (100, 16, 1, 64), (50, 100, 200, 500, 1000)),
    Sweep("H", (100, 64, 64, 128), (32, 64, 128, 256, 512)),
    Sweep("B", (100, 64, 64, 128), (1, 4, 16, 64, 256)),
)
QUICK_SWEEPS: tuple[Sweep, ...] = (
    Sweep("T", (100, 16, 1, 64), (50, 200, 800)),
    Sweep("H", (100, 16, 64, 128), (32, 128, 512)),
    Sweep("B", (100, 64, 64, 128), (1, 16, 256)),
)
CURVES: tuple[tuple[str, str], ...] = (
    ("lstm", "native"),
    ("lstm", "loop"),
    ("lstm-peephole", "loop"),
    ("lstm-cifg", "loop"),
    ("lstm+ln", "loop"),
    ("gru", "native"),
    ("gru", "loop"),
    ("gru-cho", "loop"),
    ("mingru", "scan"),
)
"""(variant, engine) of each scaling curve: torch.nn's fused kernel (``native``) and the fast
engines of the LSTM forms, the GRU forms and minGRU."""


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


def scaling_curves(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    reps: int = 3,
    sweeps: Sequence[Sweep] = SWEEPS,
    curves: Sequence[tuple[str, str]] = CURVES,
    on_point: Callable[[ScalingPoint], None] | None = None,
) -> tuple[ScalingCurves, list[ExtensionWarmup]]:
    """Time forward+backward of each curve along each sweep and draw a log-log PNG at ``path``.

    Every point is the median and min-max of ``reps`` calls after one untimed call. Curves
    whose engine is not registered or does not support the variant are skipped. Returns the
    points and the warm-up of the C++ libraries the curves needed (loaded before any timing).
    """
    device = torch.device(device)
    lines = [
        (variant, engine)
        for variant, engine in ((parse_variants(v)[0], e) for v, e in curves)
        if engine in applicable_engines(variant, [engine])
    ]
    families = sorted({f for v, e in lines for f in extension_families([v], [e], device)})
    warmups = warm_up_extensions(families)
    result = ScalingCurves(
        png=str(path), reps=reps, device=str(device), threads=torch.get_num_threads()
    )
    with _libraries_unchanged(warmups):
        for sweep in sweeps:
            for variant, engine in lines:
                for size in sweep.sizes():
                    times, _ = time_calls(
                        _engine_call(variant, engine, size, device, "train")[0],
                        device, reps=reps, warmup=1,
                    )  # fmt: skip
                    result.points.append(
                        ScalingPoint(
                            curve=f"{variant.name}/{engine}",
                            axis=sweep.axis,
                            size=size,
                            median_ms=statistics.median(times) * 1e3,
                            min_ms=min(times) * 1e3,
                            max_ms=max(times) * 1e3,
                        )
                    )
                    if on_point:
                        on_point(result.points[-1])
    draw_scaling(result)
    return result, warmups


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
        position = _AXIS_POSITION[axis]
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
        f"rnnlab engines, one layer, float32, {curves.device}, {_threads(curves.threads)} "
        f"(native = torch.nn's fused kernel; band = min-max of {curves.reps} calls)"
    )
    rows = -(-len(labels) // 5)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * rows, 1, 1))
    fig.savefig(path or curves.png, dpi=110)
    plt.close(fig)


COLUMNS = ("T,B,I,H", "mode", "cell", "engine", "ms", "min–max", "µs/step", "× torch.nn",
           "GFLOP/s", "% peak", "peak MiB", "saved MiB")  # fmt: skip


def _cells(r: CaseResult) -> list[str]:
    """One row's text, in ``COLUMNS`` order."""
    return [
        ",".join(map(str, r.size)), r.mode, r.variant,
        f"{r.engine} ({r.path})" if r.path else r.engine, f"{r.median_ms:.1f}",
        f"{r.min_ms:.1f}–{r.max_ms:.1f}", f"{r.per_step_us:.0f}",
        "" if r.ratio is None else f"{r.ratio:.2f}", f"{r.gflops:.1f}",
        f"{100 * r.peak_fraction:.0f}", f"{r.memory_mib:.1f}" if r.memory_mib else "",
        "" if r.saved_mib is None else f"{r.saved_mib:.1f}",
    ]  # fmt: skip


def _threads(count: int) -> str:
    return f"{count} thread" + ("s" if count != 1 else "")


def _title(report: BenchReport) -> str:
    load = ""
    if report.load_average:
        start, end = report.load_average
        load = f", load average {start:.1f} → {end:.1f} on {report.cpus} CPUs"
    return (
        f"rnnlab bench: {report.device}, {_threads(report.threads)}, torch {report.torch_version}, "
        f"peak FP32 GEMM {report.peak_gemm_gflops:.0f} GFLOP/s (measured in this run){load}"
    )


def busy_warning(report: BenchReport) -> str | None:
    """A warning when other processes loaded the machine during the run, else None."""
    if not report.load_average or not report.cpus or max(report.load_average) <= report.cpus:
        return None
    return (
        f"Warning: the load average reached {max(report.load_average):.1f} on {report.cpus} "
        "CPUs: other processes competed for the cores, so times are unreliable (a multi-thread "
        "kernel waits for every descheduled thread); ratios were measured alternately, call by "
        "call, but carry the noise too. Rerun on an idle machine"
        + (", or with --threads 1." if report.threads > 1 else ".")
    )


def _caption(report: BenchReport) -> str:
    return (
        "time: median and min–max over reps; × torch.nn: median / median of the torch.nn "
        f"module timed alternately with the case, call by call; memory: {report.memory_measure}"
    )


WARMUP_COLUMNS = ("C++ kernels", "available", "seconds", "built or loaded",
                  "unchanged after run", "reason")  # fmt: skip


def _warmup_cells(w: ExtensionWarmup) -> list[str]:
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
    position = _AXIS_POSITION[axis]
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
            warm.add_row(*_warmup_cells(w))
        console.print(warm)
    else:
        console.print("No C++ kernel library used in this run (nothing to warm up).")
    console.print(results_table(report, width=console.width))
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


NARROW_COLUMNS = ("T,B,I,H", "mode", "cell", "engine", "ms", "µs/step", "× torch.nn")
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
        "; narrow terminal: min–max, GFLOP/s, % peak and memory are in --json and --markdown"
        if narrow
        else ""
    )
    table = Table(title=title or _title(report), caption=caption)
    for i in shown:
        column = COLUMNS[i]
        left = column in ("mode", "cell", "engine")
        table.add_column(column, justify="left" if left else "right", no_wrap=not (narrow and left))
    previous = None
    for r in report.results:
        if previous is not None and (r.size, r.mode) != previous:
            table.add_section()
        previous = (r.size, r.mode)
        cells = _cells(r)
        table.add_row(*(cells[i] for i in shown), style="dim" if r.engine == "torch" else None)
    return table


def parse_variants(text: str) -> list[Variant]:
    """Parse ``lstm,gru+ln,lstm+rd0.25,lstm+zo0.1`` into variants; ValueError names bad parts.

    ``rd`` and ``zo`` without a number mean 0.25 and 0.1.
    """
    variants = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        cell, *extras = part.split("+")
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r} in {part!r}: expected one of {sorted(CELLS)}")
        options: dict[str, float | bool] = {}
        for extra in extras:
            try:
                if extra == "ln":
                    options["layer_norm"] = True
                elif extra.startswith("rd"):
                    options["recurrent_dropout"] = float(extra[2:] or 0.25)
                elif extra.startswith("zo"):
                    options["zoneout"] = float(extra[2:] or 0.1)
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"unknown option {extra!r} in {part!r}: expected ln, rd<p> or zo<p>"
                ) from None
        variants.append(Variant(cell, **options))  # type: ignore[arg-type]
    if not variants:
        raise ValueError(f"no cell variant in {text!r}")
    return variants


def parse_sizes(text: str) -> list[tuple[int, int, int, int]]:
    """Parse ``100x64x64x128,1000x16x1x64`` into (T, B, I, H) tuples; ValueError when malformed."""
    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            size = tuple(int(v) for v in part.lower().split("x"))
        except ValueError:
            size = ()
        if len(size) != 4 or min(size) < 1:
            raise ValueError(f"size {part!r} is not TxBxIxH with four positive integers")
        sizes.append(size)
    if not sizes:
        raise ValueError(f"no size in {text!r}")
    return sizes  # type: ignore[return-value]


def plan(
    *,
    quick: bool = False,
    variants: list[Variant] | None = None,
    sizes: list[tuple[int, int, int, int]] | None = None,
    engines: list[str] | None = None,
    modes: list[str] | None = None,
) -> dict[str, object]:
    """Keyword arguments of :func:`run_benchmark` for the CLI's choices (quick or full)."""
    if engines is not None:
        unknown = [e for e in engines if e not in ENGINES]
        if unknown:
            raise ValueError(f"unknown engine(s) {unknown}: expected some of {sorted(ENGINES)}")
    if modes is not None:
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            raise ValueError(f"unknown mode(s) {unknown}: expected some of {list(MODES)}")
    return {
        "variants": variants or (QUICK_VARIANTS if quick else VARIANTS),
        "sizes": sizes or (QUICK_SIZES if quick else SIZES),
        "modes": modes or MODES,
        "engines": engines or (QUICK_ENGINES if quick else None),
    }


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
        lines += _markdown_rows(WARMUP_COLUMNS, map(_warmup_cells, report.extensions))
        lines += ["", WARMUP_NOTE]
    elif report.schema >= 2:
        lines.append("No C++ kernel library used in this run (nothing to warm up).")
    else:
        lines.append(f"(schema {report.schema} file: no warm-up recorded)")
    lines += ["", *_markdown_rows(COLUMNS, map(_cells, report.results)), "", _caption(report)]
    if report.scaling:
        link = os.path.relpath(report.scaling.png, Path(link_from or "."))
        lines += ["", f"![time vs T, H and B, forward+backward]({Path(link).as_posix()})"]
        for axis in _axes(report.scaling):
            lines += ["", *_markdown_rows(*_scaling_grid(report.scaling, axis))]
    return "\n".join(lines)


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

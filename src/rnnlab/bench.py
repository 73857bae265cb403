"""Speed benchmark of every cell and engine against torch.nn, measured side by side.

One *case* is (cell variant, engine, size, mode). A case times one layer and one direction
through the engine's ``run`` function (the contract of :mod:`rnnlab.nn.engines.base`), which is
what a ``Recurrent`` layer calls per layer and direction. Its baseline is the torch.nn module of
the cell's family (``nn.LSTM`` for the LSTM forms, ``nn.GRU`` for the GRU forms and minGRU /
minLSTM, ``nn.RNN`` for the Elman forms and IndRNN) at the same (T, B, I, H), timed in the same
process just before the cases of that size and mode, so ratios compare like with like even on a
busy machine.

Measures, per case:

- time per call: median and min-max over ``reps`` timed calls after ``warmup`` untimed calls;
  ``forward`` runs under ``torch.no_grad()`` (inference), ``train`` is forward + backward of
  ``output.sum() + h_n.sum()`` with gradients for input, state and weights;
- time per step (median / T), ratio to the torch.nn baseline (median / median);
- GFLOP/s from ``CellSpec.flops_per_step`` (matrix products only; forward + backward counted as
  3x forward, the usual convention) and its fraction of this machine's peak FP32 GEMM rate,
  measured at the start of the run with square ``torch.mm``;
- memory: on CUDA the peak allocated bytes above the starting point
  (``torch.cuda.max_memory_allocated``); on CPU torch has no allocator statistics, so we report
  the bytes of the tensors autograd saves for backward (a ``saved_tensors_hooks`` count of
  distinct storages), which is the part of training memory that grows with T and differs
  between engines. It is not process RSS.

No engine uses TorchScript or torch.compile, so there is no compile warm-up to report; the
first (warm-up) call's time is still recorded as ``first_ms``.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.nn.cells import CELLS, CellSpec
from rnnlab.nn.engines import ENGINE_SUPPORTS, ENGINES, LayerOptions, StepMasks

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


VARIANTS: tuple[Variant, ...] = (
    Variant("lstm"),
    Variant("lstm", layer_norm=True),
    Variant("lstm", recurrent_dropout=0.25),
    Variant("lstm", zoneout=0.1),
    Variant("lstm-peephole"),
    Variant("lstm-cifg"),
    Variant("gru"),
    Variant("gru", layer_norm=True),
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
    """One row of the benchmark table (times in milliseconds)."""

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


@dataclass
class BenchReport:
    """The whole run: machine facts and one row per case."""

    device: str
    threads: int
    torch_version: str
    machine: str
    peak_gemm_gflops: float
    memory_measure: str
    results: list[CaseResult] = field(default_factory=list)

    def to_json(self, path: str | Path) -> None:
        """Write the report as JSON (rows under ``results``)."""
        Path(path).write_text(json.dumps(asdict(self), indent=2))


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


def _measure_memory(call: Callable[[], object], device: torch.device, mode: str) -> float:
    """MiB: CUDA peak allocated above start; CPU bytes saved for backward (0 for forward)."""
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        call()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - start) / 2**20
    if mode == "forward":
        return 0.0
    counter = _SavedBytes()
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
        call()
    return counter.mib


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

    ``slow_reps`` is used instead of ``reps`` for the ``reference`` engine, whose per-step
    autograd records make it the slowest by far. ``on_result`` is called after each case
    (progress display).
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False")
    variants, sizes, modes = list(variants), list(sizes), list(modes)
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
            "peak CUDA memory allocated above start (MiB)"
            if device.type == "cuda"
            else "bytes saved by autograd for backward (MiB); 0 for forward"
        ),
    )
    for size in sizes:
        steps, batch, input_size, hidden = size
        for mode in modes:
            baselines: dict[str, Callable[[], object]] = {}
            for variant in variants:
                spec = CELLS[variant.cell]
                base_name, module = _baseline_module(spec, input_size, hidden)
                if base_name not in baselines:
                    module = module.to(device)
                    x_base = torch.randn(
                        steps, batch, input_size, device=device, requires_grad=True
                    )
                    baselines[base_name] = _call(_baseline_fn(module, x_base), mode)
                    times, first = time_calls(
                        baselines[base_name], device, reps=reps, warmup=warmup
                    )
                    report.results.append(
                        _row(base_name, "torch", size, mode, times, first,
                             statistics.median(times), base_name, spec, device,
                             report.peak_gemm_gflops, 0.0)
                    )  # fmt: skip
                    if on_result:
                        on_result(report.results[-1])
                for engine in applicable_engines(variant, engines):
                    x, state, params, masks = _make_inputs(variant, size, device, seed=0)
                    run = ENGINES[engine]

                    def fn(spec=spec, run=run, x=x, state=state, params=params, masks=masks):
                        return run(spec, x, state, params, lengths=None, reverse=False, masks=masks)

                    call = _call(fn, mode)
                    n = slow_reps if engine == "reference" else reps
                    _, first = time_calls(call, device, reps=0, warmup=warmup)
                    # The ratio's torch.nn time is measured alternately with this case.
                    base_times, times = time_alternately(
                        [baselines[base_name], call], device, reps=n, warmup=0
                    )
                    memory = _measure_memory(call, device, mode)
                    report.results.append(
                        _row(variant.name, engine, size, mode, times, first,
                             statistics.median(base_times),
                             base_name, spec, device, report.peak_gemm_gflops, memory)
                    )  # fmt: skip
                    if on_result:
                        on_result(report.results[-1])
    return report


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
    device: torch.device,
    peak: float,
    memory: float,
) -> CaseResult:
    steps, batch, input_size, hidden = size
    median = statistics.median(times)
    flops = spec.flops_per_step(input_size, hidden) * batch * steps * (3 if mode == "train" else 1)
    if engine == "torch":
        # The baseline row's arithmetic is that of the torch module's own cell.
        torch_spec = CELLS[{"nn.LSTM": "lstm", "nn.GRU": "gru"}.get(base_name, "rnn-tanh")]
        flops = (
            torch_spec.flops_per_step(input_size, hidden)
            * batch
            * steps
            * (3 if mode == "train" else 1)
        )
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
        memory_mib=memory,
        reps=len(times),
    )


def scaling_curves(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    reps: int = 3,
    base: tuple[int, int, int, int] = (100, 16, 32, 64),
    sweeps: dict[str, list[int]] | None = None,
) -> dict[str, list[dict[str, float]]]:
    """Time forward+backward vs T, H and B around ``base`` and save a 3-panel PNG at ``path``.

    Curves: ``lstm`` native and loop, ``gru`` native and loop, ``mingru`` scan. ``sweeps`` maps
    ``"T"``, ``"H"``, ``"B"`` to the values tried. Returns the measured points.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    device = torch.device(device)
    lines = [
        ("lstm", "native"),
        ("lstm", "loop"),
        ("gru", "native"),
        ("gru", "loop"),
        ("mingru", "scan"),
    ]
    sweeps = sweeps or {"T": [32, 64, 128, 256, 512], "H": [32, 64, 128, 256], "B": [4, 16, 64]}
    points: dict[str, list[dict[str, float]]] = {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (axis, values) in zip(axes, sweeps.items(), strict=True):
        for cell, engine in lines:
            if engine not in ENGINES:
                continue
            ms = []
            for value in values:
                t, b, i, h = base
                size = {"T": (value, b, i, h), "H": (t, b, i, value), "B": (t, value, i, h)}[axis]
                x, state, params, masks = _make_inputs(Variant(cell), size, device, seed=0)
                spec, run = CELLS[cell], ENGINES[engine]

                def fn(spec=spec, run=run, x=x, state=state, params=params, masks=masks):
                    return run(spec, x, state, params, lengths=None, reverse=False, masks=masks)

                times, _ = time_calls(_call(fn, "train"), device, reps=reps, warmup=1)
                ms.append(statistics.median(times) * 1e3)
                points.setdefault(f"{cell}/{engine}/{axis}", []).append({axis: value, "ms": ms[-1]})
            ax.plot(values, ms, marker="o", label=f"{cell} ({engine})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(axis)
        ax.set_ylabel("forward+backward ms (median)")
        others = {k: v for k, v in zip("TBIH", base, strict=True) if k not in (axis, "I")}
        ax.set_title(
            f"time vs {axis} ({', '.join(f'{k}={v}' for k, v in others.items())}, I={base[2]})"
        )
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"rnnlab engines, one layer, {device}, {torch.get_num_threads()} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return points


COLUMNS = ("T,B,I,H", "mode", "cell", "engine", "ms", "min–max", "µs/step", "× torch.nn",
           "GFLOP/s", "% peak", "mem MiB")  # fmt: skip


def _cells(r: CaseResult) -> list[str]:
    """One row's text, in ``COLUMNS`` order."""
    return [
        ",".join(map(str, r.size)), r.mode, r.variant, r.engine, f"{r.median_ms:.1f}",
        f"{r.min_ms:.1f}–{r.max_ms:.1f}", f"{r.per_step_us:.0f}",
        "" if r.ratio is None else f"{r.ratio:.2f}", f"{r.gflops:.1f}",
        f"{100 * r.peak_fraction:.0f}", f"{r.memory_mib:.1f}" if r.memory_mib else "",
    ]  # fmt: skip


def results_table(report: BenchReport, title: str | None = None):  # -> rich.table.Table
    """The report as a rich table (one row per case, baselines marked ``torch``)."""
    from rich.table import Table

    table = Table(
        title=title
        or (
            f"rnnlab bench: {report.device}, {report.threads} threads, "
            f"torch {report.torch_version}, peak FP32 GEMM {report.peak_gemm_gflops:.0f} GFLOP/s"
        ),
        caption="time: median and min–max over reps; × torch.nn: median / median of the torch.nn "
        f"module timed alternately with the case, call by call; mem: {report.memory_measure}",
    )
    for column in COLUMNS:
        left = column in ("mode", "cell", "engine")
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    previous = None
    for r in report.results:
        if previous is not None and (r.size, r.mode) != previous:
            table.add_section()
        previous = (r.size, r.mode)
        table.add_row(*_cells(r), style="dim" if r.engine == "torch" else None)
    return table


def parse_variants(text: str) -> list[Variant]:
    """Parse ``lstm,gru+ln,lstm+rd0.25,lstm+zo0.1`` into variants; ValueError names bad parts."""
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


def markdown_table(report: BenchReport) -> str:
    """The report as a Markdown table (for docs and issue notes)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in report.results]
    return "\n".join(lines)


def load_report(path: str | Path) -> BenchReport:
    """Read a report written by :meth:`BenchReport.to_json`."""
    data = json.loads(Path(path).read_text())
    rows = [CaseResult(**{**row, "size": tuple(row["size"])}) for row in data.pop("results")]
    return BenchReport(**data, results=rows)

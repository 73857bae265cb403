"""Running the table: every applicable (variant, engine) at every size and mode."""

from __future__ import annotations

import os
import platform
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from rnnlab.bench.calls import baseline_fn, baseline_module, engine_call, in_mode
from rnnlab.bench.cases import MODES, SIZES, VARIANTS, Variant, applicable_engines
from rnnlab.bench.memory import measure_memory
from rnnlab.bench.ratios import Ratio, noise_floor, paired_ratio, verdict
from rnnlab.bench.results import BenchReport, CaseResult
from rnnlab.bench.timing import load_average_now, peak_gemm_gflops, time_calls, time_interleaved
from rnnlab.bench.warmup import extension_families, libraries_unchanged, warm_up_extensions
from rnnlab.nn.cells import CELLS, CellSpec
from rnnlab.nn.engines import auto


@dataclass(frozen=True)
class _Timing:
    """How many calls to time, and the generator that shuffles each round's order."""

    reps: int
    warmup: int
    slow_reps: int
    rng: random.Random


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
    seed: int = 0,
    on_result: Callable[[CaseResult], None] | None = None,
) -> BenchReport:
    """Time every applicable (variant, engine) at every size and mode.

    The C++ kernel libraries the cases need are loaded first and reported in
    ``BenchReport.extensions``, so their build or load time is in no case's time.
    ``slow_reps`` is used instead of ``reps`` for the ``reference`` engine, whose per-step
    autograd records make it the slowest by far. ``seed`` seeds the shuffled order within
    every round of timed calls. ``on_result`` is called after each case (progress display).
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
        order_seed=seed,
    )
    timing = _Timing(reps, warmup, slow_reps, random.Random(seed))
    load_start = load_average_now()
    with libraries_unchanged(report.extensions):
        for size in sizes:
            for mode in modes:
                _time_size_and_mode(
                    report, variants, size, mode, engines, device, timing, on_result
                )
    if load_start is not None:
        report.load_average = [load_start, load_average_now() or 0.0]
    return report


CONTROL_ENGINES = ("native",)
"""Engines that run torch.nn's own kernel: their rows are same-kernel controls."""
BASELINE_CELLS = {"nn.LSTM": "lstm", "nn.GRU": "gru"}
"""The cell whose arithmetic each torch.nn baseline does (the rest: ``rnn-tanh``)."""


def _baseline_spec(base_name: str) -> CellSpec:
    return CELLS[BASELINE_CELLS.get(base_name, "rnn-tanh")]


def _time_size_and_mode(
    report: BenchReport,
    variants: list[Variant],
    size: tuple[int, int, int, int],
    mode: str,
    engines: list[str] | None,
    device: torch.device,
    timing: _Timing,
    on_result: Callable[[CaseResult], None] | None,
) -> None:
    """Append the rows of one (size, mode): each family's torch.nn module against itself (the
    control), then the cases, each in shuffled rounds with its baseline (and, for the GRU
    cells, with nn.LSTM); then the noise floor and every row's verdict."""
    input_size, hidden = size[2], size[3]
    first_row = len(report.results)
    baselines: dict[str, Callable[[], None]] = {}
    lstm: list[Callable[[], None]] = []  # nn.LSTM's call, made when a GRU cell needs it

    def lstm_call() -> Callable[[], None]:
        if not lstm:
            lstm.append(_module_call(torch.nn.LSTM(input_size, hidden), size, device, mode))
        return lstm[0]

    def add(name: str, engine: str, spec: CellSpec, call: Callable[[], None], base_name: str,
            reps: int, path: str | None = None) -> None:  # fmt: skip
        per_flop = base_name == "nn.GRU" and spec.uses_recurrent_matmul
        _, first = time_calls(call, device, reps=0, warmup=timing.warmup)
        calls = [call, baselines[base_name], *([lstm_call()] if per_flop else [])]
        times = time_interleaved(calls, device, reps=reps, warmup=0, rng=timing.rng)
        row = _row(name, engine, size, mode, times, first, base_name, spec,
                   report.peak_gemm_gflops, measure_memory(call, device, mode))  # fmt: skip
        row.path = path
        row.control = engine in ("torch", *CONTROL_ENGINES)
        report.results.append(row)
        if on_result:
            on_result(row)

    for variant in variants:
        spec = CELLS[variant.cell]
        base_name, module = baseline_module(spec, input_size, hidden)
        if base_name not in baselines:
            baselines[base_name] = _module_call(module, size, device, mode)
            add(base_name, "torch", _baseline_spec(base_name), baselines[base_name], base_name,
                timing.reps)  # fmt: skip
        probe = torch.empty(1, 1, input_size, device=device)
        picked = auto.choose(
            spec, variant.options, probe, training=mode == "train", stacked_dropout=False
        )
        for engine in applicable_engines(variant, engines):
            call, path = engine_call(variant, engine, size, device, mode)
            reps = timing.slow_reps if engine == "reference" else timing.reps
            add(variant.name, engine, spec, call, base_name, reps, path)
            report.results[-1].auto = engine == picked
    _judge(report.results[first_row:])


def _module_call(
    module: torch.nn.Module, size: tuple[int, int, int, int], device: torch.device, mode: str
) -> Callable[[], None]:
    steps, batch, input_size, _ = size
    x = torch.randn(steps, batch, input_size, device=device, requires_grad=True)
    return in_mode(baseline_fn(module.to(device), x), mode)


def _judge(rows: list[CaseResult]) -> None:
    """Set the noise floor of one (size, mode) from its control rows, and every verdict."""
    controls = [
        Ratio(r.ratio, r.ratio_low, r.ratio_high)
        for r in rows
        if r.control and r.ratio is not None and r.ratio_low is not None
    ]
    floor = noise_floor(controls)
    for r in rows:
        r.noise_floor = floor
        if r.control:
            r.verdict = "control"
        elif r.ratio is not None and r.ratio_low is not None and r.ratio_high is not None:
            r.verdict = verdict(Ratio(r.ratio, r.ratio_low, r.ratio_high), floor)


def _row(
    name: str,
    engine: str,
    size: tuple[int, int, int, int],
    mode: str,
    times: list[list[float]],
    first: float,
    base_name: str,
    spec: CellSpec,
    peak: float,
    memory: tuple[float, float | None],
) -> CaseResult:
    """A row from the rounds ``times`` = [case, baseline(, nn.LSTM)] in seconds."""
    steps, batch, input_size, hidden = size
    case, base, *lstm = times
    median = statistics.median(case)
    flops_per_step = spec.flops_per_step(input_size, hidden)
    flops = flops_per_step * batch * steps * (3 if mode == "train" else 1)
    gflops = flops / median / 1e9
    ratio = paired_ratio(case, base)
    row = CaseResult(
        variant=name,
        engine=engine,
        size=size,
        mode=mode,
        median_ms=median * 1e3,
        min_ms=min(case) * 1e3,
        max_ms=max(case) * 1e3,
        first_ms=first * 1e3,
        per_step_us=median / steps * 1e6,
        ratio=ratio.median,
        baseline=base_name,
        gflops=gflops,
        peak_fraction=gflops / peak if peak else 0.0,
        memory_mib=memory[0],
        saved_mib=memory[1],
        reps=len(case),
        samples_ms=[t * 1e3 for t in case],
        baseline_samples_ms=[t * 1e3 for t in base],
        ratio_low=ratio.low,
        ratio_high=ratio.high,
    )
    if lstm:
        lstm_flops = CELLS["lstm"].flops_per_step(input_size, hidden)
        per_flop = paired_ratio(case, lstm[0], scale=lstm_flops / flops_per_step)
        row.lstm_samples_ms = [t * 1e3 for t in lstm[0]]
        row.lstm_flop_ratio = per_flop.median
        row.lstm_flop_low, row.lstm_flop_high = per_flop.low, per_flop.high
    return row

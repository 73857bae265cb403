"""Running the table: every applicable (variant, engine) at every size and mode."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Iterable

import torch

from rnnlab.bench.calls import baseline_fn, baseline_module, engine_call, in_mode
from rnnlab.bench.cases import MODES, SIZES, VARIANTS, Variant, applicable_engines
from rnnlab.bench.memory import measure_memory
from rnnlab.bench.results import BenchReport, CaseResult
from rnnlab.bench.timing import load_average_now, peak_gemm_gflops, time_alternately, time_calls
from rnnlab.bench.warmup import extension_families, libraries_unchanged, warm_up_extensions
from rnnlab.nn.cells import CELLS, CellSpec


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
    load_start = load_average_now()
    with libraries_unchanged(report.extensions):
        for size in sizes:
            for mode in modes:
                _time_size_and_mode(
                    report, variants, size, mode, engines, device, reps, warmup, slow_reps,
                    on_result,
                )  # fmt: skip
    if load_start is not None:
        report.load_average = [load_start, load_average_now() or 0.0]
    return report


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
        base_name, module = baseline_module(spec, input_size, hidden)
        if base_name not in baselines:
            module = module.to(device)
            x_base = torch.randn(steps, batch, input_size, device=device, requires_grad=True)
            baselines[base_name] = in_mode(baseline_fn(module, x_base), mode)
            times, first = time_calls(baselines[base_name], device, reps=reps, warmup=warmup)
            memory = measure_memory(baselines[base_name], device, mode)
            report.results.append(
                _row(base_name, "torch", size, mode, times, first, statistics.median(times),
                     base_name, spec, report.peak_gemm_gflops, memory)
            )  # fmt: skip
            if on_result:
                on_result(report.results[-1])
        for engine in applicable_engines(variant, engines):
            call, path = engine_call(variant, engine, size, device, mode)
            n = slow_reps if engine == "reference" else reps
            _, first = time_calls(call, device, reps=0, warmup=warmup)
            # The ratio's torch.nn time is measured alternately with this case.
            base_times, times = time_alternately(
                [baselines[base_name], call], device, reps=n, warmup=0
            )
            memory = measure_memory(call, device, mode)
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

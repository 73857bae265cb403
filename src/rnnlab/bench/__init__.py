"""Speed benchmark of every cell and engine against torch.nn, measured side by side.

One *case* is (cell variant, engine, size, mode). A case times one layer and one direction
through the engine's ``run`` function (the contract of :mod:`rnnlab.nn.engines.base`), which is
what a ``Recurrent`` layer calls per layer and direction. Its baseline is the torch.nn module of
the cell's family (``nn.LSTM`` for the LSTM forms, ``nn.GRU`` for the GRU forms and minGRU /
minLSTM, ``nn.RNN`` for the Elman forms and IndRNN) at the same (T, B, I, H), timed in the same
process in rounds with the case (one call each, the order shuffled in every round), so each
round gives a pair measured under the same load; ratios are medians over pairs with a bootstrap
CI. Each size and mode also times the torch.nn module against itself, and the ``native`` engine
(torch's kernel through our engine) against torch.nn: these same-kernel controls set the noise
floor within which a ratio is reported as parity. The GRU cells are also compared with nn.LSTM
per FLOP (torch's CPU GRU is unusually slow). Every sample is kept in the JSON.

Measures, per case:

- time per call: median and min-max over ``reps`` timed calls after ``warmup`` untimed calls;
  ``forward`` runs under ``torch.no_grad()`` (inference), ``train`` is forward + backward of
  ``output.sum() + h_n.sum()`` with gradients for input, state and weights;
- time per step (median / T), ratio to the torch.nn baseline (median over pairs, 95 % CI),
  its verdict against the noise floor (``faster``, ``slower``, ``parity``);
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

Modules: :mod:`~rnnlab.bench.cases` (what is timed), :mod:`~rnnlab.bench.calls` (one timed
call), :mod:`~rnnlab.bench.timing`, :mod:`~rnnlab.bench.ratios` (CIs, noise floor, verdicts),
:mod:`~rnnlab.bench.memory`, :mod:`~rnnlab.bench.warmup`, :mod:`~rnnlab.bench.runner` (the
table), :mod:`~rnnlab.bench.scaling` (the curves), :mod:`~rnnlab.bench.results` (dataclasses
and JSON) and :mod:`~rnnlab.bench.render` (tables, Markdown, PNG).
"""

from rnnlab.bench.cases import (
    CURVES,
    MODES,
    QUICK_ENGINES,
    QUICK_SIZES,
    QUICK_SWEEPS,
    QUICK_VARIANTS,
    SIZES,
    SWEEPS,
    VARIANTS,
    Sweep,
    Variant,
    applicable_engines,
    group_flops,
    parse_sizes,
    parse_variants,
    plan,
)
from rnnlab.bench.memory import cpu_peak_mib
from rnnlab.bench.ratios import Ratio, noise_floor, paired_ratio, verdict
from rnnlab.bench.render import (
    COLUMNS,
    WARMUP_COLUMNS,
    WARMUP_NOTE,
    busy_warning,
    draw_scaling,
    markdown_table,
    noise_floor_lines,
    print_report,
    results_table,
    warmup_cells,
)
from rnnlab.bench.results import (
    SCHEMA,
    BenchReport,
    CaseResult,
    ExtensionWarmup,
    ScalingCurves,
    ScalingPoint,
    load_report,
)
from rnnlab.bench.runner import run_benchmark
from rnnlab.bench.scaling import scaling_curves
from rnnlab.bench.timing import peak_gemm_gflops, time_calls, time_interleaved
from rnnlab.bench.warmup import extension_families, libraries_unchanged, warm_up_extensions

__all__ = [
    "COLUMNS",
    "CURVES",
    "MODES",
    "QUICK_ENGINES",
    "QUICK_SIZES",
    "QUICK_SWEEPS",
    "QUICK_VARIANTS",
    "SCHEMA",
    "SIZES",
    "SWEEPS",
    "VARIANTS",
    "WARMUP_COLUMNS",
    "WARMUP_NOTE",
    "BenchReport",
    "CaseResult",
    "ExtensionWarmup",
    "Ratio",
    "ScalingCurves",
    "ScalingPoint",
    "Sweep",
    "Variant",
    "applicable_engines",
    "busy_warning",
    "cpu_peak_mib",
    "draw_scaling",
    "extension_families",
    "group_flops",
    "libraries_unchanged",
    "load_report",
    "markdown_table",
    "noise_floor",
    "noise_floor_lines",
    "paired_ratio",
    "parse_sizes",
    "parse_variants",
    "peak_gemm_gflops",
    "plan",
    "print_report",
    "results_table",
    "run_benchmark",
    "scaling_curves",
    "time_calls",
    "time_interleaved",
    "verdict",
    "warm_up_extensions",
    "warmup_cells",
]  # fmt: skip

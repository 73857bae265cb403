"""The optional C++ extensions with fused CPU recurrences, built from source on first use.

The loop engine's fastest path is C++ (``rnnlab/nn/kernels/csrc/<family>.cpp``, one library
per cell family: ``lstm``, ``gru``, ``rnn``, and ``minrnn`` for the scan engine): one call runs a
whole sequence, with the element-wise gate maths fused into one pass per step and torch's own
GEMM for the matrix products, so no Python runs per time step. It is compiled with the
machine's C++ compiler through :func:`torch.utils.cpp_extension.load` the first time it is
needed, into a cache directory keyed by the sources, the torch version and the CPU, so later
processes only load the built library (milliseconds). If no compiler (or ``ninja``) is present,
the build fails, or ``RNNLAB_EXTENSION=0`` is set, :func:`ops` returns None and the engine uses
its pure-PyTorch kernels instead: same numbers, slower. Each family builds separately, so a
family whose build fails does not take the others down.

Buffers of 1 MiB and more (the activations kept for the backward, the outputs, the input
gradient) come from a per-library cache of blocks freed by earlier calls, so a training loop
does not fault in fresh pages every step; it keeps at most ``RNNLAB_KERNEL_CACHE_MB`` MiB of
free blocks (default 256, ``0`` turns it off), and torch's profiler sees its allocations.

Build time is the extension's warm-up cost; :func:`status` reports it separately (``rnnlab
bench`` prints it) and it is paid once per machine, never per batch, length or shape.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "FAMILIES",
    "ExtensionStatus",
    "KernelConfig",
    "can_run",
    "contiguous",
    "dense",
    "needs_autograd",
    "ops",
    "refuse_double_backward",
    "require_ops",
    "status",
]

SOURCES_DIR = Path(__file__).with_name("csrc")
FAMILIES = tuple(sorted(path.stem for path in SOURCES_DIR.glob("*.cpp")))
"""Cell families with C++ kernels: one library each, ``csrc/<family>.cpp``."""
# No -ffast-math: its reciprocal approximations turn a saturated sigmoid (1 / (1 + inf)) into
# NaN, it may drop NaNs, and at link time it switches the whole process to flush denormals to
# zero. common.h declares glibc's SIMD exp/tanh instead, which is all the vectoriser needs.
_CFLAGS = [
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fopenmp",
    "-std=c++17",
]


@dataclass(frozen=True)
class ExtensionStatus:
    """Whether the C++ kernels are in use, and what loading them cost in this process.

    Attributes:
        available: the ops are loaded.
        seconds: wall time spent building (first use on this machine) or loading the library.
        built: True when this process compiled it, False when a cached build was loaded.
        reason: why it is unavailable (None when available).
        directory: the build cache directory.
    """

    available: bool
    seconds: float
    built: bool
    reason: str | None
    directory: str


@dataclass(frozen=True)
class KernelConfig:
    """The parts of a kernel call that are not differentiated, common to every family (each
    family's config adds its own switches).

    Attributes:
        batch_sizes: active rows per step (non-increasing), or () for all rows at every step.
        rec_mask: recurrent-dropout mask (already scaled) broadcastable to (B, H), or None.
        zoneout: zoneout keep-mask(s) broadcastable to (T, B, H) per state component, or None.
    """

    batch_sizes: tuple[int, ...] = ()
    rec_mask: torch.Tensor | None = None
    zoneout: torch.Tensor | None = None


_lock = threading.Lock()
_statuses: dict[str, ExtensionStatus] = {}


def _build_directory(name: str, sources: list[Path]) -> Path:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    digest.update(torch.__version__.encode())
    digest.update(platform.machine().encode())
    digest.update(platform.processor().encode())
    try:
        # The build uses -march=native: a build for another CPU must not be reused.
        flags = next(
            line for line in Path("/proc/cpuinfo").read_text().splitlines() if "flags" in line
        )
        digest.update(flags.encode())
    except (OSError, StopIteration):
        pass
    root = Path(os.environ.get("RNNLAB_CACHE_DIR", Path.home() / ".cache" / "rnnlab"))
    return root / "extensions" / f"{name}-{digest.hexdigest()[:16]}"


def _load(family: str) -> ExtensionStatus:
    if os.environ.get("RNNLAB_EXTENSION", "1") == "0":
        return ExtensionStatus(False, 0.0, False, "disabled by RNNLAB_EXTENSION=0", "")
    if family not in FAMILIES:
        raise ValueError(f"no C++ kernels for family {family!r}: expected one of {FAMILIES}")
    name = f"rnnlab_{family}"
    source = SOURCES_DIR / f"{family}.cpp"
    directory = _build_directory(name, [source, *sorted(SOURCES_DIR.glob("*.h"))])
    library = directory / f"{name}.so"
    start = time.perf_counter()
    if library.exists():
        torch.ops.load_library(str(library))
        return ExtensionStatus(True, time.perf_counter() - start, False, None, str(directory))
    missing = [tool for tool in ("c++", "ninja") if shutil.which(tool) is None]
    if missing:
        return ExtensionStatus(
            False, 0.0, False, f"not found on PATH: {', '.join(missing)}", str(directory)
        )
    directory.mkdir(parents=True, exist_ok=True)
    from torch.utils import cpp_extension

    print(
        f"rnnlab: compiling the C++ {family} kernels (once per machine, about 20-60 s)...",
        file=sys.stderr,
        flush=True,
    )
    try:
        cpp_extension.load(
            name=name,
            sources=[str(source)],
            extra_cflags=_CFLAGS,
            extra_ldflags=["-fopenmp"],
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
        )
    except Exception as error:  # any compiler or linker failure: fall back, say why
        lines = str(error).strip().splitlines()
        first_error = next((line for line in lines if "error" in line), lines[-1])
        reason = f"build failed: {first_error.strip()[:300]}"
        warnings.warn(f"rnnlab: C++ kernels unavailable ({reason}); using PyTorch", stacklevel=3)
        return ExtensionStatus(False, time.perf_counter() - start, True, reason, str(directory))
    _remove_stale_builds(name, directory)
    return ExtensionStatus(True, time.perf_counter() - start, True, None, str(directory))


def _remove_stale_builds(name: str, current: Path) -> None:
    """Delete this family's builds of older sources (each source edit or upgrade adds one)."""
    for old in current.parent.glob(f"{name}-*"):
        if old != current:
            shutil.rmtree(old, ignore_errors=True)


def status(family: str) -> ExtensionStatus:
    """Load (building if needed) one family's library once per process; say how it went."""
    with _lock:
        if family not in _statuses:
            _statuses[family] = _load(family)
        return _statuses[family]


def ops(family: str) -> Any | None:
    """``torch.ops.rnnlab`` with ``family``'s fused kernels, or None when they are unavailable.

    Args:
        family: one of :data:`FAMILIES` (``"lstm"``...).
    """
    return torch.ops.rnnlab if status(family).available else None


def can_run(family: str, x: torch.Tensor) -> bool:
    """Whether ``family``'s kernels can run input ``x``: float32 or float64 on the CPU, with the
    library built (the engines' test for their C++ path)."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and ops(family) is not None
    )


def require_ops(family: str) -> Any:
    """``torch.ops.rnnlab`` for a kernel wrapper; a RuntimeError saying why and what to do
    when ``family``'s library is unavailable (the loop engine checks :func:`ops` first and
    falls back, so only direct callers of the wrappers can meet it)."""
    if ops(family) is None:
        raise RuntimeError(
            f"the C++ {family} kernels are unavailable ({status(family).reason}): install a C++ "
            "compiler and ninja, or run the layer with engine='loop', which falls back to PyTorch"
        )
    return torch.ops.rnnlab


def refuse_double_backward() -> None:
    """Raise inside a C++ kernel's backward when autograd records it (``create_graph=True``).

    The hand-written backward is not itself differentiable; without this, a second derivative
    would silently miss every path through the recurrence.
    """
    if torch.is_grad_enabled():
        raise RuntimeError(
            "the loop engine's C++ kernels support first derivatives only (create_graph=True "
            "asks for more): use engine='reference' for higher-order gradients"
        )


def needs_autograd(*tensors: torch.Tensor | None) -> bool:
    """Whether a kernel call must record an autograd node (grad mode on, some input needs it).

    Inference calls skip the node and let the kernel reuse one step of scratch instead of
    keeping every step's activations (``ctx.needs_input_grad`` cannot tell: it ignores
    ``torch.no_grad``).
    """
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def dense(
    mask: torch.Tensor | None, shape: tuple[int, ...], like: torch.Tensor
) -> torch.Tensor | None:
    """``mask`` broadcast to ``shape`` as a contiguous tensor of ``like``'s dtype (the kernels
    read masks element by element)."""
    if mask is None:
        return None
    return mask.to(like.dtype).expand(shape).contiguous()


def contiguous(*tensors: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """Each tensor made contiguous (the kernels index raw memory), None kept."""
    return tuple(None if t is None else t.contiguous() for t in tensors)

"""The optional C++ extensions with fused CPU recurrences, built from source on first use.

The loop engine's fastest path is C++ (``rnnlab/nn/kernels/csrc/<family>.cpp``, one library
per cell family: ``lstm``, ``gru``, ``rnn``, and ``minrnn`` for the scan engine): one call runs a
whole sequence, with the element-wise gate maths fused into one pass per step and torch's own
GEMM for the matrix products, so no Python runs per time step. It is compiled with the
machine's C++ compiler through :func:`torch.utils.cpp_extension.load` the first time it is
needed, into a cache directory keyed by the sources, the compiler flags, the torch version and
the CPU, so later processes only load the built library (milliseconds). If no compiler (or
``ninja``) is present, the cache directory cannot be written, the build fails, or
``RNNLAB_EXTENSION=0`` is set, :func:`ops` returns None and the engine uses its pure-PyTorch
kernels instead: same numbers, slower. Each family builds separately, so a family whose build
fails does not take the others down; a failure is remembered for the process and warned about
once. Each build records its library's SHA-256 next to it; a library that does not match it
(truncated, corrupt: ``dlopen`` could crash on it) is never opened but rebuilt.

Builds are serialised across processes by an ``flock`` on ``rnnlab-build.lock`` in the build
directory, which the kernel releases when its holder dies: a build killed with ``kill -9``
never blocks later ones (its leftover torch ``lock`` file is removed by the next builder). A
process waits at most 60 s (``RNNLAB_BUILD_LOCK_TIMEOUT_S``) for a live builder, then uses
PyTorch with a warning naming the lock file. Another build directory of the same family is
removed only when it has not been loaded for 30 days and no process holds its lock (other
checkouts or environments may share the cache).

Buffers of 1 MiB and more (the activations kept for the backward, the outputs, the input
gradient) come from one cache per process of blocks freed by earlier calls, shared by every
family's library (its instance is a GNU-unique symbol, which the dynamic linker merges), so a
training loop does not fault in fresh pages every step; it keeps at most
``RNNLAB_KERNEL_CACHE_MB`` MiB of free blocks in all (default 256, ``0`` turns it off), and
torch's profiler sees its allocations.

Build time is the extension's warm-up cost; :func:`status` reports it separately (``rnnlab
bench`` prints it) and it is paid once per machine, never per batch, length or shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator
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
# No -std either: torch adds the standard its own headers need, and a later flag would win.
_CFLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp"]
_LDFLAGS = ["-fopenmp"]
BUILD_LOCK = "rnnlab-build.lock"
_STALE_AFTER_DAYS = 30


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


_locks = {family: threading.Lock() for family in FAMILIES}  # one per family: no global wait
_statuses: dict[str, ExtensionStatus] = {}
_warned: set[str] = set()


def _build_directory(name: str, sources: list[Path]) -> Path:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    digest.update(" ".join([*_CFLAGS, "|", *_LDFLAGS, "|", os.environ.get("CXX", "")]).encode())
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


def _lock_timeout() -> float:
    return float(os.environ.get("RNNLAB_BUILD_LOCK_TIMEOUT_S", "60"))


@contextlib.contextmanager
def _build_lock(directory: Path, timeout: float) -> Iterator[bool]:
    """Hold ``directory``'s build lock; yield False if a live process kept it ``timeout`` s.

    An ``flock``, not a lock file's existence: the kernel drops it when its holder dies, so a
    killed build is taken over at once.
    """
    import fcntl

    with (directory / BUILD_LOCK).open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.2)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _digest_path(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _intact(library: Path) -> bool:
    """Whether ``library`` is the file its build recorded (a truncated or corrupt library
    can kill the process inside ``dlopen``, so it is never opened)."""
    try:
        return _digest_path(library).read_text().strip() == _sha256(library)
    except OSError:
        return False


def _loads(library: Path) -> bool:
    """Load a built library; False when it is missing, unfinished, truncated or corrupt."""
    if not _intact(library):
        return False
    try:
        torch.ops.load_library(str(library))
    except OSError:
        return False
    with contextlib.suppress(OSError):  # marks the build as in use (see _remove_stale_builds)
        os.utime(library.parent)
    return True


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=5)


def _load(family: str) -> ExtensionStatus:
    if os.environ.get("RNNLAB_EXTENSION", "1") == "0":
        return ExtensionStatus(False, 0.0, False, "disabled by RNNLAB_EXTENSION=0", "")
    name = f"rnnlab_{family}"
    source = SOURCES_DIR / f"{family}.cpp"
    directory = _build_directory(name, [source, *sorted(SOURCES_DIR.glob("*.h"))])
    library = directory / f"{name}.so"
    start = time.perf_counter()

    def unavailable(reason: str, built: bool = False) -> ExtensionStatus:
        _warn_once(f"rnnlab: C++ kernels unavailable ({reason}); using PyTorch")
        return ExtensionStatus(False, time.perf_counter() - start, built, reason, str(directory))

    if _loads(library):
        return ExtensionStatus(True, time.perf_counter() - start, False, None, str(directory))
    missing = [tool for tool in ("c++", "ninja") if shutil.which(tool) is None]
    if missing:
        return ExtensionStatus(
            False, 0.0, False, f"not found on PATH: {', '.join(missing)}", str(directory)
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _build_lock(directory, _lock_timeout()) as held:
            if not held:
                lock = directory / BUILD_LOCK
                return unavailable(
                    f"another process held the build lock {lock} for {_lock_timeout():.0f} s; "
                    "if no rnnlab build is running, delete that file"
                )
            if _loads(library):  # the process we waited for built it
                return ExtensionStatus(
                    True, time.perf_counter() - start, False, None, str(directory)
                )
            # Under our lock no live build runs here: torch's lock file is a killed build's.
            (directory / "lock").unlink(missing_ok=True)
            library.unlink(missing_ok=True)  # one that does not load is rebuilt
            failure = _compile(family, name, source, directory)
            if failure is None:
                staged = directory / f".{library.name}.sha256.tmp"
                staged.write_text(_sha256(library) + "\n")
                staged.replace(_digest_path(library))
    except OSError as error:  # an unwritable or unreadable cache directory
        return unavailable(f"cannot use the build cache {directory.parent}: {error.strerror}")
    if failure is not None:
        return unavailable(failure, built=True)
    _remove_stale_builds(name, directory)
    return ExtensionStatus(True, time.perf_counter() - start, True, None, str(directory))


def _compile(family: str, name: str, source: Path, directory: Path) -> str | None:
    """Build and load ``family``'s library; None on success, else why it failed."""
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
            extra_cflags=list(_CFLAGS),  # torch appends to the lists it is given
            extra_ldflags=list(_LDFLAGS),
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
        )
    except Exception as error:  # any compiler or linker failure: fall back, say why
        lines = str(error).strip().splitlines() or [type(error).__name__]
        first_error = next((line for line in lines if "error" in line), lines[-1])
        return f"build failed: {first_error.strip()[:300]}"
    return None


def _remove_stale_builds(name: str, current: Path) -> None:
    """Delete this family's other builds that are provably unused: not loaded for
    ``_STALE_AFTER_DAYS`` days (every load touches its directory) and not being built now
    (their lock is free). Other checkouts or environments sharing the cache may use the rest."""
    cutoff = time.time() - _STALE_AFTER_DAYS * 86400
    for old in current.parent.glob(f"{name}-*"):
        try:
            if old == current or not old.is_dir() or old.stat().st_mtime > cutoff:
                continue
            with _build_lock(old, timeout=0) as held:
                if held:
                    shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def status(family: str) -> ExtensionStatus:
    """Load (building if needed) one family's library once per process; say how it went."""
    if family not in FAMILIES:
        raise ValueError(f"no C++ kernels for family {family!r}: expected one of {FAMILIES}")
    with _locks[family]:
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

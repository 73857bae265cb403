"""Loading the C++ kernel libraries before any timing, and checking none reloads during it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from rnnlab.bench.cases import Variant, applicable_engines
from rnnlab.bench.results import ExtensionWarmup
from rnnlab.nn.engines import scan
from rnnlab.nn.engines.loop import CPP_KERNELS
from rnnlab.nn.kernels import extension


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
def libraries_unchanged(warmups: list[ExtensionWarmup]) -> Iterator[None]:
    """Around a run: afterwards, set ``unchanged_after_run`` of every warm-up."""
    before = {w.family: (extension.status(w.family), _library_files(w.directory)) for w in warmups}
    yield
    for w in warmups:
        status, files = before[w.family]
        w.unchanged_after_run = (
            extension.status(w.family) is status and _library_files(w.directory) == files
        )

"""Engines that run one recurrent layer and direction (contract: :mod:`rnnlab.nn.engines.base`).

Importing this package imports every engine module, and each registers itself with
:func:`~rnnlab.nn.engines.base.register_engine`:

- ``native``: torch's fused kernels (``native.py``);
- ``reference``: plain Python time loop, the oracle (``reference.py``);
- ``loop`` and ``scan``: optional modules ``loop.py`` / ``scan.py``, imported when present;
- ``auto`` (``auto.py``, not an engine): which engine ``engine="auto"`` runs, per device and
  mode.

To add an engine, write ``engines/NAME.py`` that calls ``register_engine("NAME", run,
supports)`` at import, add NAME to ``_OPTIONAL`` below and, if ``"auto"`` should pick it, to
``base.AUTO_ORDER``.
"""

import importlib

from rnnlab.nn.engines import native, reference
from rnnlab.nn.engines.base import (
    AUTO_ORDER,
    ENGINE_SUPPORTS,
    ENGINES,
    NO_MASKS,
    LayerOptions,
    RunFn,
    StepMasks,
    register_engine,
    resolve_engine,
)

_OPTIONAL = ("loop", "scan")
for _name in _OPTIONAL:
    try:
        importlib.import_module(f"rnnlab.nn.engines.{_name}")
    except ModuleNotFoundError as error:
        if error.name != f"rnnlab.nn.engines.{_name}":
            raise
from rnnlab.nn.engines import auto  # noqa: E402  (after loop, whose kernels it checks)

__all__ = [
    "AUTO_ORDER",
    "ENGINES",
    "ENGINE_SUPPORTS",
    "NO_MASKS",
    "LayerOptions",
    "RunFn",
    "StepMasks",
    "auto",
    "native",
    "reference",
    "register_engine",
    "resolve_engine",
]

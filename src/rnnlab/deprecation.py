"""Old public names kept for one release: using one warns and returns the new object.

A module that renamed something ends with ``__getattr__ = deprecated_aliases(...)``, so
``from module import OldName`` keeps working with a ``DeprecationWarning`` naming the new one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


def deprecated_aliases(
    module: str, aliases: dict[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each old name of ``aliases`` to its new name in
    ``namespace`` (the module's ``globals()``), with a ``DeprecationWarning``."""

    def __getattr__(name: str) -> Any:
        if name in aliases:
            new = aliases[name]
            warnings.warn(
                f"{module}.{name} is deprecated and will be removed in the next release; "
                f"use {module}.{new}",
                DeprecationWarning,
                stacklevel=2,
            )
            return namespace[new]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__

"""The scan engine: minGRU and minLSTM as a parallel scan (Feng et al. 2024).

Their gates depend on ``x_t`` only, so every step is ``h_t = a_t ⊙ h_{t-1} + b_t`` with all
``a_t, b_t`` computed up front from the input projection (one GEMM), and the recurrence is the
chunked scan of :mod:`rnnlab.nn.kernels.linear_scan` (hand-written backward, no underflow).

- minGRU (eq. mingru.1-3): ``a = 1 - z``, ``b = z ⊙ g(x_n)``.
- minLSTM (eq. minlstm.1-4): ``a = f / (f + i)``, ``b = i / (f + i) ⊙ g(x_g)``.
- Zoneout keeps the recurrence linear: ``s_t = m s_{t-1} + (1 - m)(a s_{t-1} + b)``, i.e.
  ``a' = m + (1 - m) a`` and ``b' = (1 - m) b``.
- Padded steps become identity steps (``a = 1, b = 0``), so the last state is each
  sequence's final state; ``reverse`` reverses each sequence within its length.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.nn.cells import CellSpec, State, min_positive, project_input
from rnnlab.nn.engines.base import LayerOptions, StepMasks, register_engine
from rnnlab.nn.engines.native import reverse_within
from rnnlab.nn.kernels.linear_scan import linear_scan

SCAN_CELLS = ("mingru", "minlstm")


def supports(spec: CellSpec, options: LayerOptions) -> bool:
    """minGRU and minLSTM, with every option they accept."""
    return spec.name in SCAN_CELLS


def scan_coefficients(spec: CellSpec, xw: Tensor) -> tuple[Tensor, Tensor]:
    """``(a, b)`` of ``h_t = a_t h_{t-1} + b_t`` from the input projection ``xw`` (T, B, G*H)."""
    if spec.name == "mingru":
        x_z, x_n = xw.chunk(2, -1)
        z = torch.sigmoid(x_z)
        return 1.0 - z, z * min_positive(x_n)
    if spec.name == "minlstm":
        x_i, x_f, x_g = xw.chunk(3, -1)
        i, f = torch.sigmoid(x_i), torch.sigmoid(x_f)
        total = i + f
        return f / total, i / total * min_positive(x_g)
    raise ValueError(f"the scan engine runs {list(SCAN_CELLS)}, got cell {spec.name!r}")


def run(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    *,
    lengths: Tensor | None,
    reverse: bool,
    masks: StepMasks,
) -> tuple[Tensor, State]:
    """Engine ``run`` (contract in :mod:`rnnlab.nn.engines.base`)."""
    if masks.recurrent is not None:
        raise ValueError(f"cell {spec.name!r} has no recurrent weight, so no recurrent dropout")
    if reverse:
        x = reverse_within(x, lengths)
    a, b = scan_coefficients(spec, project_input(spec, x, params))
    if masks.zoneout is not None:
        (keep,) = masks.zoneout
        keep = keep.expand_as(a)
        if reverse:
            keep = reverse_within(keep, lengths)
        a = keep + (1 - keep) * a
        b = (1 - keep) * b
    valid = None
    if lengths is not None:
        steps = torch.arange(x.shape[0], device=x.device)[:, None]
        valid = (steps < lengths.to(x.device))[:, :, None]
        a = torch.where(valid, a, torch.ones_like(a))
        b = torch.where(valid, b, torch.zeros_like(b))
    (h0,) = state
    hs = linear_scan(a, b, h0)
    output = hs if valid is None else hs * valid
    if reverse:
        output = reverse_within(output, lengths)
    return output, (hs[-1],)


register_engine("scan", run, supports)

"""The scan engine: minGRU and minLSTM as a linear recurrence (Feng et al. 2024).

Their gates depend on ``x_t`` only, so every step is ``h_t = a_t ⊙ h_{t-1} + b_t`` with all
``a_t, b_t`` known from the input projection (one GEMM). Two paths (:func:`kernel_path`):

- **cpp** (float32/float64 CPU tensors, when the ``minrnn`` C++ library is built, see
  :mod:`rnnlab.nn.kernels.extension`): one fused pass computes the coefficients and runs the
  recurrence with every (row, block of units) in parallel, and a hand-written backward
  (:mod:`rnnlab.nn.kernels.minrnn_cpp`). On a CPU, parallel over channels beats parallel in time.
- **chunked** (GPUs, and the fallback): the coefficients as PyTorch operations and the chunked
  parallel-in-time scan of :mod:`rnnlab.nn.kernels.linear_scan` (hand-written backward, no
  underflow).

The equations, as both paths compute them:

- minGRU (eq. mingru.1-3): ``a = 1 - z``, ``b = z ⊙ g(x_n)``.
- minLSTM (eq. minlstm.1-4): ``a = f / (f + i)``, ``b = i / (f + i) ⊙ g(x_g)``.
- Zoneout keeps the recurrence linear: ``s_t = m s_{t-1} + (1 - m)(a s_{t-1} + b)``, i.e.
  ``a' = m + (1 - m) a`` and ``b' = (1 - m) b``.
- Padded steps become identity steps (``a = 1, b = 0``), so the last state is each
  sequence's final state; ``reverse`` reverses each sequence within its length.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from rnnlab.nn.cells import CellSpec, State, min_positive, normalized_gates, project_input
from rnnlab.nn.engines.base import LayerOptions, StepMasks, register_engine, valid_steps
from rnnlab.nn.engines.native import reverse_within, reverse_zoneout
from rnnlab.nn.kernels import extension
from rnnlab.nn.kernels.linear_scan import linear_scan
from rnnlab.nn.kernels.minrnn_cpp import min_recurrence

SCAN_CELLS = ("mingru", "minlstm")
CPP_FAMILY = "minrnn"
"""The C++ library (:mod:`rnnlab.nn.kernels.extension`) of the scan engine's CPU path."""
ScanPath = Literal["cpp", "chunked"]


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
        i, f = normalized_gates(x_i, x_f)
        return f, i * min_positive(x_g)
    raise ValueError(f"the scan engine runs {list(SCAN_CELLS)}, got cell {spec.name!r}")


def kernel_path(x: Tensor) -> ScanPath:
    """``"cpp"`` when the C++ kernels run ``x`` (float32/64 on the CPU, library built),
    otherwise ``"chunked"``."""
    return "cpp" if extension.can_run(CPP_FAMILY, x) else "chunked"


def _chunked(
    spec: CellSpec, xw: Tensor, h0: Tensor, valid: Tensor | None, keep: Tensor | None
) -> Tensor:
    """States (T, B, H) by the coefficient maps and the chunked scan; steps where ``valid``
    (T, B, 1) is False carry the state."""
    a, b = scan_coefficients(spec, xw)
    if keep is not None:
        keep = keep.expand_as(a)
        a = keep + (1 - keep) * a
        b = (1 - keep) * b
    if valid is not None:
        a = torch.where(valid, a, torch.ones_like(a))
        b = torch.where(valid, b, torch.zeros_like(b))
    return linear_scan(a, b, h0)


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
    steps = x.shape[0]
    if reverse:
        masks = reverse_zoneout(masks, x.shape[:2], lengths)
        x = reverse_within(x, lengths)
    keep = None if masks.zoneout is None else masks.zoneout[0]
    if lengths is not None and bool((lengths >= steps).all()):
        lengths = None
    valid = None if lengths is None else valid_steps(steps, lengths, x.device)[:, :, None]
    xw = project_input(spec, x, params)
    (h0,) = state
    if kernel_path(x) == "cpp":
        hs = min_recurrence(xw, h0, lstm=spec.name == "minlstm", lengths=lengths, zoneout=keep)
    else:
        hs = _chunked(spec, xw, h0, valid, keep)
    output = hs if valid is None else hs * valid
    if reverse:
        output = reverse_within(output, lengths)
    return output, (hs[-1],)


register_engine("scan", run, supports)

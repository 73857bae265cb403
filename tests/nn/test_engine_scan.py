"""The scan engine equals the sequential reference for minGRU and minLSTM."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS, StepMasks, resolve_engine
from rnnlab.nn.engines.base import LayerOptions

B, I, H = 3, 4, 6


def _inputs(spec, steps, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * 0.7).requires_grad_()

    params = {k: rand(*s) for k, s in spec.param_shapes(I, H).items()}
    return rand(steps, B, I), (rand(B, H),), params


def _outputs_and_grads(engine, spec, x, state, params, **kwargs):
    output, (h_n,) = ENGINES[engine](spec, x, state, params, **kwargs)
    gen = torch.Generator().manual_seed(1)
    loss = (output * torch.randn(output.shape, generator=gen, dtype=output.dtype)).sum()
    loss = loss + (h_n * torch.randn(h_n.shape, generator=gen, dtype=h_n.dtype)).sum()
    grads = torch.autograd.grad(loss, [x, *state, *params.values()])
    return [output, h_n, *grads]


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
@pytest.mark.parametrize(("lengths", "reverse", "zoneout"), [
    (None, False, False), ([9, 4, 1], True, False), ([9, 9, 5], False, True), (None, True, True),
])  # fmt: skip
def test_scan_matches_reference_float32(name, lengths, reverse, zoneout):
    spec = CELLS[name]
    x, state, params = _inputs(spec, 9, torch.float32)
    masks = NO_MASKS
    if zoneout:
        keep = (torch.rand(9, B, H, generator=torch.Generator().manual_seed(3)) < 0.4).float()
        masks = StepMasks(zoneout=(keep,))
    kwargs = {
        "lengths": None if lengths is None else torch.tensor(lengths),
        "reverse": reverse,
        "masks": masks,
    }
    got = _outputs_and_grads("scan", spec, x, state, params, **kwargs)
    want = _outputs_and_grads("reference", spec, x, state, params, **kwargs)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_scan_long_sequence_float32_matches_float64_reference(name):
    spec = CELLS[name]
    x, state, params = _inputs(spec, 4096, torch.float32, seed=2)
    with torch.no_grad():
        got, (h_n,) = ENGINES["scan"](
            spec, x, state, params, lengths=None, reverse=False, masks=NO_MASKS
        )
        want, (w_n,) = ENGINES["reference"](
            spec, x.double(), (state[0].double(),), {k: v.double() for k, v in params.items()},
            lengths=None, reverse=False, masks=NO_MASKS,
        )  # fmt: skip
    assert torch.isfinite(got).all()
    assert (got.double() - want).abs().max() < 1e-5
    assert (h_n.double() - w_n).abs().max() < 1e-5


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_scan_gradcheck_float64(name):
    spec = CELLS[name]
    x, state, params = _inputs(spec, 7, torch.float64, seed=4)
    names = list(params)
    lengths = torch.tensor([7, 3, 1])

    def fn(x, h0, *weights):
        ps = dict(zip(names, weights, strict=True))
        output, (h_n,) = ENGINES["scan"](
            spec, x, (h0,), ps, lengths=lengths, reverse=True, masks=NO_MASKS
        )
        return output, h_n

    assert torch.autograd.gradcheck(fn, (x, *state, *params.values()), fast_mode=True)


def test_scan_is_auto_choice_for_min_cells_only():
    options = LayerOptions()
    assert resolve_engine("auto", CELLS["mingru"], options) == "scan"
    assert resolve_engine("auto", CELLS["minlstm"], options) == "scan"
    with pytest.raises(ValueError, match="does not support"):
        resolve_engine("scan", CELLS["gru"], options)

"""The scan engine equals the sequential reference for minGRU and minLSTM, on both its paths
(the C++ kernels and the chunked PyTorch scan)."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS, StepMasks, resolve_engine
from rnnlab.nn.engines.base import LayerOptions
from rnnlab.nn.engines.scan import CPP_FAMILY, kernel_path
from rnnlab.nn.kernels import extension

B, I, H = 3, 4, 6


@pytest.fixture(params=["cpp", "chunked"])
def path(request, monkeypatch):
    """Run a test through the C++ kernels and again through the chunked scan."""
    if request.param == "chunked":
        monkeypatch.setattr(extension, "ops", lambda family: None)
    elif extension.ops(CPP_FAMILY) is None:
        pytest.skip(f"C++ kernels unavailable: {extension.status(CPP_FAMILY).reason}")
    assert kernel_path(torch.zeros(1)) == request.param
    return request.param


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
def test_scan_matches_reference_float32(path, name, lengths, reverse, zoneout):
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
def test_scan_long_sequence_float32_matches_float64_reference(path, name):
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
def test_scan_gradcheck_float64(path, name):
    spec = CELLS[name]
    x, state, params = _inputs(spec, 7, torch.float64, seed=4)
    names = list(params)
    lengths = torch.tensor([7, 3, 1])
    keep = (torch.rand(7, B, H, generator=torch.Generator().manual_seed(5)) < 0.4).double()

    def fn(x, h0, *weights):
        ps = dict(zip(names, weights, strict=True))
        output, (h_n,) = ENGINES["scan"](
            spec, x, (h0,), ps, lengths=lengths, reverse=True, masks=StepMasks(zoneout=(keep,))
        )
        return output, h_n

    assert torch.autograd.gradcheck(fn, (x, *state, *params.values()), fast_mode=True)


def test_scan_is_auto_choice_for_min_cells_only():
    options = LayerOptions()
    assert resolve_engine("auto", CELLS["mingru"], options) == "scan"
    assert resolve_engine("auto", CELLS["minlstm"], options) == "scan"
    with pytest.raises(ValueError, match="does not support"):
        resolve_engine("scan", CELLS["gru"], options)


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_saturated_gates_and_nan_propagate_like_the_reference(path, name):
    spec = CELLS[name]
    gen = torch.Generator().manual_seed(0)
    params = {k: torch.randn(s, generator=gen) * 8 for k, s in spec.param_shapes(I, H).items()}
    x = torch.randn(5, B, I, generator=gen) * 8
    kwargs = {"lengths": None, "reverse": False, "masks": NO_MASKS}
    state = (torch.zeros(B, H),)
    got, _ = ENGINES["scan"](spec, x, state, params, **kwargs)
    want, _ = ENGINES["reference"](spec, x, state, params, **kwargs)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    x[2, 1, 0] = float("nan")
    got, (h_n,) = ENGINES["scan"](spec, x, state, params, **kwargs)
    assert torch.isnan(got[2:, 1]).all() and torch.isfinite(got[:2, 1]).all()
    assert torch.isfinite(got[:, 0]).all() and torch.isnan(h_n[1]).all()


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_plain_sum_loss_and_inference_match_the_reference(path, name):
    # out.sum() sends an expanded (stride-0) gradient into the backward; under no_grad the
    # kernels record no autograd node.
    spec = CELLS[name]
    x, state, params = _inputs(spec, 8, torch.float64, seed=6)
    kwargs = {"lengths": None, "reverse": False, "masks": NO_MASKS}
    grads, outputs = [], []
    for engine in ("scan", "reference"):
        out, _ = ENGINES[engine](spec, x, state, params, **kwargs)
        grads.append(torch.autograd.grad(out.sum(), [x, *state, *params.values()]))
        with torch.no_grad():
            outputs.append(ENGINES[engine](spec, x, state, params, **kwargs)[0])
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-10, atol=1e-10)
    assert outputs[0].grad_fn is None


def test_cpp_path_refuses_double_backward():
    if extension.ops(CPP_FAMILY) is None:
        pytest.skip(f"C++ kernels unavailable: {extension.status(CPP_FAMILY).reason}")
    spec = CELLS["minlstm"]
    x, state, params = _inputs(spec, 5, torch.float32)
    out, _ = ENGINES["scan"](spec, x, state, params, lengths=None, reverse=False, masks=NO_MASKS)
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(out.sum(), params["weight_ih"], create_graph=True)


def test_min_recurrence_checks_the_projection_width():
    from rnnlab.nn.kernels.minrnn_cpp import min_recurrence

    with pytest.raises(ValueError, match=r"3 \* hidden = 12, got 8"):
        min_recurrence(torch.zeros(2, 1, 8), torch.zeros(1, 4), lstm=True)


@pytest.mark.parametrize("engine", ["scan", "reference"])
def test_minlstm_gates_that_both_underflow_normalise_to_a_half(path, engine):
    # sigma(-120) is 0 in float32, so the plain quotient i / (i + f) would be 0 / 0.
    spec = CELLS["minlstm"]
    params = {k: torch.zeros(s) for k, s in spec.param_shapes(I, H).items()}
    params["bias_ih"] = torch.cat([torch.full((2 * H,), -120.0), torch.ones(H)])
    x, h0 = torch.randn(4, B, I), torch.ones(B, H)
    out, _ = ENGINES[engine](spec, x, (h0,), params, lengths=None, reverse=False, masks=NO_MASKS)
    want = torch.ones(B, H)
    for t in range(4):
        want = 0.5 * want + 0.5 * 1.5  # i' = f' = 1/2, g(1) = 1.5
        torch.testing.assert_close(out[t], want)

"""The C++ Elman-family kernels (csrc/rnn.cpp) equal the cells' step functions in an eager loop:
outputs and every gradient, for rnn-tanh, rnn-relu and indrnn with each option."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn.cells import CELLS, project_input
from rnnlab.nn.kernels import extension
from rnnlab.nn.kernels.rnn_cpp import RNNConfig, rnn_family_sequence

if extension.ops("rnn") is None:
    pytest.skip(
        f"C++ rnn kernels unavailable: {extension.status('rnn').reason}", allow_module_level=True
    )

T, B, I, H = 7, 4, 3, 5
LENGTHS = [T, 5, 2, 0]  # sorted by decreasing length, as the loop engine passes rows
CELL_NAMES = ("rnn-tanh", "rnn-relu", "indrnn")
KINDS = ("plain", "layer_norm", "recurrent", "zoneout", "ragged", "all")


def _nonlinearity(name: str) -> str:
    return "tanh" if name == "rnn-tanh" else "relu"


def _setup(name, kind, dtype, seed=0):
    """Inputs, parameters (requiring grad), masks and lengths of one case."""
    spec = CELLS[name]
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.5):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * scale).requires_grad_()

    layer_norm = kind in ("layer_norm", "all")
    params = {k: rand(*s) for k, s in spec.param_shapes(I, H, layer_norm=layer_norm).items()}
    x, h0 = rand(T, B, I, scale=1.0), rand(B, H)
    rec_mask = zoneout = lengths = None
    if kind in ("recurrent", "all"):
        rec_mask = (torch.rand(B, H, generator=gen) < 0.7).to(dtype) / 0.7
    if kind in ("zoneout", "all"):
        zoneout = (torch.rand(T, 1, H, generator=gen) < 0.3).to(dtype)  # broadcast over B
    if kind in ("ragged", "all"):
        lengths = torch.tensor(LENGTHS)
    return spec, x, h0, params, rec_mask, zoneout, lengths


def _reference(spec, x, h0, params, rec_mask, zoneout, lengths):
    """The cell's step function in an eager loop, zoneout and lengths as the loop engine."""
    h, outputs = h0, []
    for t, xw_t in enumerate(project_input(spec, x, params).unbind(0)):
        (new,), _ = spec.step(xw_t, (h,), params, rec_mask)
        if zoneout is not None:
            new = zoneout[t] * h + (1 - zoneout[t]) * new
        if lengths is not None:
            new = torch.where((t < lengths)[:, None], new, h)
        h = new
        outputs.append(h)
    return torch.stack(outputs)


def _kernel(spec, x, h0, params, rec_mask, zoneout, lengths, *, fold_bias=True):
    """The C++ kernel as the loop engine calls it: b_hh folded into xp unless LayerNorm."""
    ln_hh = params.get("ln_hh_weight")
    bias_hh = params.get("bias_hh")
    if ln_hh is None and bias_hh is not None and fold_bias:
        xp = project_input(spec, x, {**params, "bias_ih": params["bias_ih"] + bias_hh})
        bias_hh = None
    else:
        xp = project_input(spec, x, params)
    batch_sizes = (
        () if lengths is None else tuple((lengths[None] > torch.arange(T)[:, None]).sum(1).tolist())
    )
    config = RNNConfig(
        batch_sizes=batch_sizes,
        rec_mask=rec_mask,
        zoneout=zoneout,
        nonlinearity=_nonlinearity(spec.name),
    )
    return rnn_family_sequence(
        xp, h0, params["weight_hh"], ln_hh=ln_hh, bias_hh=bias_hh, config=config
    )


def _outputs_and_grads(run, case):
    spec, x, h0, params, *rest = case
    hs = run(spec, x, h0, params, *rest)
    weights = torch.randn(hs.shape, generator=torch.Generator().manual_seed(1), dtype=hs.dtype)
    inputs = [x, h0, *params.values()]
    grads = torch.autograd.grad((hs * weights).sum(), inputs)
    return hs, dict(zip(["x", "h0", *params], grads, strict=True))


def _assert_equal(case, tol, **kernel_kwargs):
    want, want_grads = _outputs_and_grads(_reference, case)
    got, got_grads = _outputs_and_grads(lambda *a: _kernel(*a, **kernel_kwargs), case)
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    for name, grad in want_grads.items():
        torch.testing.assert_close(got_grads[name], grad, rtol=tol, atol=tol, msg=name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", CELL_NAMES)
def test_equals_the_step_functions_float64(name, kind):
    _assert_equal(_setup(name, kind, torch.float64), 1e-10)


@pytest.mark.parametrize("kind", ["plain", "all"])
@pytest.mark.parametrize("name", CELL_NAMES)
def test_equals_the_step_functions_float32(name, kind):
    _assert_equal(_setup(name, kind, torch.float32), 1e-5)


@pytest.mark.parametrize("name", ["rnn-tanh", "rnn-relu"])
def test_bias_hh_may_be_passed_instead_of_folded(name):
    _assert_equal(_setup(name, "ragged", torch.float64), 1e-10, fold_bias=False)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_inference_reuses_scratch_and_gives_the_same_states(name):
    case = _setup(name, "all", torch.float64)
    with torch.no_grad():
        got = _kernel(*case)
        want = _reference(*case)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_rows_split_across_threads_give_the_same_numbers(name):
    # Enough rows (B * H > 16384) for the kernel to split each step's rows between threads.
    steps, batch, hidden = 3, 300, 64
    gen = torch.Generator().manual_seed(4)
    xp = torch.randn(steps, batch, hidden, generator=gen, dtype=torch.float64)
    h0 = torch.randn(batch, hidden, generator=gen, dtype=torch.float64)
    shape = (hidden,) if name == "indrnn" else (hidden, hidden)
    weight = torch.randn(*shape, generator=gen, dtype=torch.float64) / hidden**0.5
    ln_hh = None if name == "indrnn" else torch.rand(hidden, generator=gen, dtype=torch.float64)
    config = RNNConfig(
        batch_sizes=(batch, batch, batch // 2),
        rec_mask=torch.rand(batch, hidden, generator=gen, dtype=torch.float64) + 0.5,
        zoneout=(torch.rand(steps, batch, hidden, generator=gen) < 0.3).to(torch.float64),
        nonlinearity=_nonlinearity(name),
    )
    outputs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)  # the autouse fixture restores the setting
        inputs = [t.clone().requires_grad_() for t in (xp, h0, weight)]
        hs = rnn_family_sequence(*inputs, ln_hh=ln_hh, config=config)
        outputs.append([hs, *torch.autograd.grad(hs.square().sum(), inputs)])
    for single, split in zip(*outputs, strict=True):
        torch.testing.assert_close(split, single, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("vector", [False, True], ids=["rnn-tanh+layernorm", "indrnn+bias"])
def test_gradcheck_with_every_option(vector):
    steps, batch, hidden = 4, 3, 3
    gen = torch.Generator().manual_seed(3)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_()

    xp, h0, bias_hh = rand(steps, batch, hidden), rand(batch, hidden), rand(hidden)
    weight_hh = rand(hidden) if vector else rand(hidden, hidden)
    ln_hh = None if vector else rand(hidden)
    config = RNNConfig(
        batch_sizes=(3, 3, 2, 1),
        rec_mask=torch.rand(batch, hidden, generator=gen, dtype=torch.float64) + 0.5,
        zoneout=torch.rand(steps, batch, hidden, generator=gen, dtype=torch.float64),
        nonlinearity="relu" if vector else "tanh",
    )
    inputs = (xp, h0, weight_hh, bias_hh) if vector else (xp, h0, weight_hh, ln_hh, bias_hh)

    def run(*args):
        if vector:
            return rnn_family_sequence(*args[:3], bias_hh=args[3], config=config)
        return rnn_family_sequence(*args[:3], ln_hh=args[3], bias_hh=args[4], config=config)

    assert torch.autograd.gradcheck(run, inputs)


def test_nan_propagates_through_relu_like_the_reference():
    case = _setup("rnn-relu", "plain", torch.float64)
    with torch.no_grad():
        case[1][2, 1, 0] = float("nan")
        got, want = _kernel(*case), _reference(*case)
    assert torch.isnan(got[2:, 1]).all() == torch.isnan(want[2:, 1]).all()
    assert torch.isnan(got[2:, 1]).any() and torch.isfinite(got[:, 0]).all()
    torch.testing.assert_close(got, want, equal_nan=True)


def test_double_backward_is_refused_not_silently_wrong():
    xp = torch.randn(3, 2, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    hs = rnn_family_sequence(xp, torch.zeros(2, 4, dtype=torch.float64), weight)
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(hs.sum(), weight, create_graph=True)


def test_bad_shapes_and_options_are_clear_errors():
    xp, h0 = torch.randn(3, 2, 4), torch.zeros(2, 4)
    with pytest.raises(RuntimeError, match=r"weight_hh must be \(H, H\) or \(H,\) with H = 4"):
        rnn_family_sequence(xp, h0, torch.randn(4, 5))
    with pytest.raises(RuntimeError, match="no LayerNorm for a vector weight_hh"):
        rnn_family_sequence(xp, h0, torch.randn(4), ln_hh=torch.ones(4))
    with pytest.raises(RuntimeError, match="batch_sizes must have T = 3 entries"):
        rnn_family_sequence(xp, h0, torch.randn(4, 4), config=RNNConfig(batch_sizes=(2, 2)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        RNNConfig(nonlinearity="gelu")

"""The C++ Elman-family kernels (csrc/rnn.cpp) equal the cells' step functions in an eager loop:
outputs and every gradient, for rnn-tanh, rnn-relu and indrnn with each option; and the loop
engine running them (input LayerNorm inside the kernel) equals the reference engine."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.nn.cells import CELLS, project_input
from rnnlab.nn.engines import ENGINES, NO_MASKS, StepMasks
from rnnlab.nn.engines import loop as loop_engine
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
    """The C++ kernel on the raw projection x W_ih^T, with LayerNorm and biases inside it;
    without LayerNorm and with ``fold_bias``, the biases folded into xp instead."""
    ln_ih, ln_hh = params.get("ln_ih_weight"), params.get("ln_hh_weight")
    bias_ih, bias_hh = params.get("bias_ih"), params.get("bias_hh")
    xp = F.linear(x, params["weight_ih"])
    if ln_ih is None and ln_hh is None and fold_bias:
        xp = xp + bias_ih + (0 if bias_hh is None else bias_hh)
        bias_ih = bias_hh = None
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
        xp,
        h0,
        params["weight_hh"],
        ln_hh=ln_hh,
        bias_hh=bias_hh,
        ln_ih=ln_ih,
        bias_ih=bias_ih,
        config=config,
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


@pytest.mark.parametrize("name", CELL_NAMES)
def test_biases_may_be_passed_instead_of_folded(name):
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
    ln_ih, bias_ih = torch.rand(2, hidden, generator=gen, dtype=torch.float64)
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
        hs = rnn_family_sequence(*inputs, ln_hh=ln_hh, ln_ih=ln_ih, bias_ih=bias_ih, config=config)
        outputs.append([hs, *torch.autograd.grad(hs.square().sum(), inputs)])
    for single, split in zip(*outputs, strict=True):
        torch.testing.assert_close(split, single, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("vector", [False, True], ids=["rnn-tanh", "indrnn"])
def test_gradcheck_with_every_option(vector):
    steps, batch, hidden = 4, 3, 3
    gen = torch.Generator().manual_seed(3)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_()

    xp, h0, bias_hh = rand(steps, batch, hidden), rand(batch, hidden), rand(hidden)
    weight_hh = rand(hidden) if vector else rand(hidden, hidden)
    ln_ih, bias_ih = rand(hidden), rand(hidden)
    ln_hh = None if vector else rand(hidden)
    config = RNNConfig(
        batch_sizes=(3, 3, 2, 1),
        rec_mask=torch.rand(batch, hidden, generator=gen, dtype=torch.float64) + 0.5,
        zoneout=torch.rand(steps, batch, hidden, generator=gen, dtype=torch.float64),
        nonlinearity="relu" if vector else "tanh",
    )
    vectors = {"bias_hh": bias_hh, "ln_ih": ln_ih, "bias_ih": bias_ih}
    if not vector:
        vectors["ln_hh"] = ln_hh

    def run(xp, h0, weight_hh, *args):
        return rnn_family_sequence(
            xp, h0, weight_hh, **dict(zip(vectors, args, strict=True)), config=config
        )

    inputs = (xp, h0, weight_hh, *vectors.values())

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
    with pytest.raises(RuntimeError, match=r"weight_hh must have shape \[4, 4\]"):
        rnn_family_sequence(xp, h0, torch.randn(4, 5))
    with pytest.raises(RuntimeError, match=r"ln_ih must have shape \[4\], got \[3\]"):
        rnn_family_sequence(xp, h0, torch.randn(4, 4), ln_ih=torch.ones(3))
    with pytest.raises(RuntimeError, match="no LayerNorm for a vector weight_hh"):
        rnn_family_sequence(xp, h0, torch.randn(4), ln_hh=torch.ones(4))
    with pytest.raises(RuntimeError, match="batch_sizes must have T = 3 entries"):
        rnn_family_sequence(xp, h0, torch.randn(4, 4), config=RNNConfig(batch_sizes=(2, 2)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        RNNConfig(nonlinearity="gelu")


def _engine_case(name, layer_norm, masks, dtype):
    spec = CELLS[name]
    gen = torch.Generator().manual_seed(5)

    def rand(*shape):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * 0.5).requires_grad_()

    params = {k: rand(*s) for k, s in spec.param_shapes(I, H, layer_norm=layer_norm).items()}
    x, h0 = rand(T, B, I), rand(B, H)
    if masks == "zoneout":
        masks = StepMasks(zoneout=((torch.rand(T, 1, H, generator=gen) < 0.3).to(dtype),))
    elif masks == "recurrent":
        masks = StepMasks(recurrent=(torch.rand(B, H, generator=gen) < 0.7).to(dtype) / 0.7)
    else:
        masks = NO_MASKS
    return spec, x, (h0,), params, masks


def _engine_outputs_and_grads(engine, spec, x, state, params, masks, lengths, reverse):
    output, (h_last,) = ENGINES[engine](
        spec, x, state, params, lengths=lengths, reverse=reverse, masks=masks
    )
    gen = torch.Generator().manual_seed(6)
    loss = (output * torch.randn(output.shape, generator=gen, dtype=output.dtype)).sum()
    loss = loss + (h_last * torch.randn(h_last.shape, generator=gen, dtype=x.dtype)).sum()
    inputs = [x, *state, *params.values()]
    return [output, h_last, *torch.autograd.grad(loss, inputs)]


@pytest.mark.parametrize(("lengths", "reverse"), [(None, False), (LENGTHS, True)])
@pytest.mark.parametrize("masks", ["none", "zoneout", "recurrent"])
@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "layer_norm"])
@pytest.mark.parametrize("name", CELL_NAMES)
def test_loop_engine_runner_equals_reference_float64(name, layer_norm, masks, lengths, reverse):
    case = _engine_case(name, layer_norm, masks, torch.float64)
    lengths = None if lengths is None else torch.tensor(LENGTHS[::-1])  # unsorted rows
    assert loop_engine.kernel_path(case[0], case[3], case[4], case[1]) == "cpp"
    got = _engine_outputs_and_grads("loop", *case, lengths, reverse)
    want = _engine_outputs_and_grads("reference", *case, lengths, reverse)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_loop_engine_runner_equals_reference_float32(name):
    case = _engine_case(name, True, "zoneout", torch.float32)
    lengths = torch.tensor(LENGTHS[::-1])
    got = _engine_outputs_and_grads("loop", *case, lengths, True)
    want = _engine_outputs_and_grads("reference", *case, lengths, True)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)

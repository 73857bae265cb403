"""The C++ LSTM-family kernel with the input LayerNorm fused in equals the reference engine.

Every case runs the real loop-engine path (its C++ runner hands the kernel the raw input
projection with ``ln_ih`` and ``bias_ih``; sorting, lengths, masks) against
``ENGINES["reference"]``, and checks that the C++ runner actually ran.
"""

from __future__ import annotations

import pytest
import torch
from engine_cases import run_with_grads, step_masks

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import NO_MASKS, loop
from rnnlab.nn.kernels import extension

if extension.ops("lstm") is None:
    pytest.skip(
        f"C++ LSTM kernels unavailable: {extension.status('lstm').reason}", allow_module_level=True
    )


from rnnlab.nn.kernels.lstm_cpp import LSTMConfig, lstm_family_sequence

T, B, I, H = 6, 3, 4, 5
LSTM_CELLS = ("lstm", "lstm-peephole", "lstm-cifg")


@pytest.fixture(autouse=True)
def fused_runner(monkeypatch):
    """Count the calls of the loop engine's C++ runner for the LSTM cells."""
    calls = []
    family, real = loop.CPP_KERNELS["lstm"]

    def counted(*args):
        calls.append(args[0].name)
        return real(*args)

    for name in LSTM_CELLS:
        monkeypatch.setitem(loop.CPP_KERNELS, name, (family, counted))
    return calls


def _inputs(spec, dtype, layer_norm, seed=0, steps=T):
    """x, state and parameters; layer_norm "input" keeps only the input LayerNorm."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * 0.5).requires_grad_()

    shapes = spec.param_shapes(I, H, layer_norm=bool(layer_norm))
    params = {k: rand(*s) for k, s in shapes.items()}
    if layer_norm == "input":
        for name in ("ln_hh_weight", "ln_c_weight", "ln_c_bias"):
            del params[name]
    x = rand(steps, B, I)
    state = tuple(rand(B, s) for s in spec.state_sizes(H))
    return x, state, params


@pytest.mark.parametrize("kind", ["none", "recurrent"])
def test_recurrent_layer_norm_over_several_weight_gradient_chunks(kind):
    # With ln_hh the backward folds dR_t into grad W_hh 32 steps at a time: 70 ragged steps
    # make two full chunks and a partial one, with rows ending inside each.
    spec = CELLS["lstm"]
    x, state, params = _inputs(spec, torch.float64, True, seed=5, steps=70)
    kwargs = {
        "lengths": torch.tensor([70, 33, 31]),
        "reverse": False,
        "masks": step_masks(spec, kind, torch.float64, 70, B, H),
    }
    _assert_engines_agree(spec, x, state, params, 1e-10, **kwargs)


def _assert_engines_agree(spec, x, state, params, tol, **kwargs):
    got, got_grads = run_with_grads("loop", spec, x, state, params, **kwargs)
    want, want_grads = run_with_grads("reference", spec, x, state, params, **kwargs)
    names = ["output", "h", "c", "x", "h0", "c0", *params]
    for name, g, w in zip(names, got + got_grads, want + want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=tol, atol=tol, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("name", LSTM_CELLS)
@pytest.mark.parametrize("layer_norm", [False, True, "input"])
@pytest.mark.parametrize("kind", ["none", "zoneout", "recurrent"])
@pytest.mark.parametrize(("lengths", "reverse"), [(None, False), ([2, T, 1], True)])
def test_engine_path_matches_reference_float64(
    name, layer_norm, kind, lengths, reverse, fused_runner
):
    spec = CELLS[name]
    x, state, params = _inputs(spec, torch.float64, layer_norm)
    assert loop.kernel_path(spec, params, NO_MASKS, x) == "cpp"
    kwargs = {
        "lengths": None if lengths is None else torch.tensor(lengths),
        "reverse": reverse,
        "masks": step_masks(spec, kind, torch.float64, T, B, H),
    }
    _assert_engines_agree(spec, x, state, params, 1e-10, **kwargs)
    assert fused_runner == [name]


@pytest.mark.parametrize("name", LSTM_CELLS)
@pytest.mark.parametrize("kind", ["none", "zoneout"])
def test_engine_path_matches_reference_float32(name, kind):
    spec = CELLS[name]
    x, state, params = _inputs(spec, torch.float32, True, seed=3)
    kwargs = {
        "lengths": torch.tensor([T, 4, 1]),
        "reverse": False,
        "masks": step_masks(spec, kind, torch.float32, T, B, H),
    }
    _assert_engines_agree(spec, x, state, params, 1e-5, **kwargs)


@pytest.mark.parametrize(
    ("cifg", "ln_ih", "ln_hh"), [(False, True, True), (True, True, False), (False, False, False)]
)
def test_kernel_gradcheck_float64(cifg, ln_ih, ln_hh):
    # Every differentiable input at once, ragged rows, dropout and zoneout; the last case has
    # separate biases without any LayerNorm.
    gen = torch.Generator().manual_seed(7)
    steps, batch, hidden, gates = 4, 3, 3, 3 if cifg else 4

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_()

    leaves = {
        "xp": rand(steps, batch, gates * hidden),
        "h0": rand(batch, hidden),
        "c0": rand(batch, hidden),
        "weight_hh": rand(gates * hidden, hidden),
        "peephole": None if cifg else rand(3, hidden),
        "ln_ih": rand(gates * hidden) if ln_ih else None,
        "bias_ih": rand(gates * hidden),
        "ln_hh": rand(gates * hidden) if ln_hh else None,
        "bias_hh": rand(gates * hidden),
        "ln_c": rand(2, hidden) if ln_ih else None,
    }
    config = LSTMConfig(
        batch_sizes=(3, 3, 2, 1),
        rec_mask=(torch.rand(batch, hidden, generator=gen) < 0.7).double() / 0.7,
        zoneout=(torch.rand(2, steps, 1, hidden, generator=gen) < 0.3).double(),
        cifg=cifg,
    )
    names = [k for k, v in leaves.items() if v is not None]

    def fn(*tensors):
        given = dict(zip(names, tensors, strict=True))
        xp, h0, c0, weight_hh = (given.pop(k) for k in ("xp", "h0", "c0", "weight_hh"))
        return lstm_family_sequence(xp, h0, c0, weight_hh, **given, config=config)

    assert torch.autograd.gradcheck(fn, tuple(leaves[k] for k in names))

"""The loop engine equals the reference engine: outputs, final states and every gradient."""

from __future__ import annotations

import pytest
import torch
from engine_cases import run_with_grads, step_masks

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS
from rnnlab.nn.engines.loop import CPP_KERNELS, FUSED_CELLS, kernel_path
from rnnlab.nn.kernels import extension

T, B, I, H = 6, 3, 4, 5


@pytest.fixture(params=["extension", "pytorch"])
def kernels(request, monkeypatch):
    """Run a test with the C++ kernels (when built) and again with the PyTorch fallback."""
    if request.param == "pytorch":
        monkeypatch.setattr(extension, "ops", lambda family: None)
    return request.param


def _inputs(spec, dtype, *, layer_norm=False, seed=0):
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * 0.5).requires_grad_()

    params = {k: rand(*s) for k, s in spec.param_shapes(I, H, layer_norm=layer_norm).items()}
    x = rand(T, B, I)
    state = tuple(rand(B, s) for s in spec.state_sizes(H))
    return x, state, params


CASES = [
    (name, kind, layer_norm)
    for name, spec in CELLS.items()
    for kind, layer_norm in [
        ("none", False),
        ("none", True),
        ("zoneout", False),
        ("recurrent", False),
    ]
    if kind != "recurrent" or spec.supports_recurrent_dropout
]


@pytest.mark.parametrize(("name", "kind", "layer_norm"), CASES)
@pytest.mark.parametrize(("lengths", "reverse"), [(None, False), ([2, T, 1], True)])
def test_loop_matches_reference_float64(name, kind, layer_norm, lengths, reverse, kernels):
    spec = CELLS[name]
    x, state, params = _inputs(spec, torch.float64, layer_norm=layer_norm)
    kwargs = {
        "lengths": None if lengths is None else torch.tensor(lengths),
        "reverse": reverse,
        "masks": step_masks(spec, kind, torch.float64, T, B, H),
    }
    got, got_grads = run_with_grads("loop", spec, x, state, params, **kwargs)
    want, want_grads = run_with_grads("reference", spec, x, state, params, **kwargs)
    for g, w in zip(got + got_grads, want + want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted({*FUSED_CELLS, *CPP_KERNELS}))
def test_fast_paths_float32_match_reference(name, kernels):
    spec = CELLS[name]
    x, state, params = _inputs(spec, torch.float32, seed=3)
    path = kernel_path(spec, params, NO_MASKS, x)
    built = name in CPP_KERNELS and extension.ops(CPP_KERNELS[name][0]) is not None
    if kernels == "pytorch" or not built:
        assert path == ("fused" if name in FUSED_CELLS else "generic")
    else:
        assert path == "cpp"
    kwargs = {"lengths": torch.tensor([T, 4, 1]), "reverse": False, "masks": NO_MASKS}
    got, got_grads = run_with_grads("loop", spec, x, state, params, **kwargs)
    want, want_grads = run_with_grads("reference", spec, x, state, params, **kwargs)
    for g, w in zip(got + got_grads, want + want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", [*FUSED_CELLS, "lstm-peephole", "lstm-cifg", "gru-cho"])
def test_loop_gradcheck_float64(name, kernels):
    spec = CELLS[name]
    x, state, params = _inputs(spec, torch.float64, seed=4)
    names = list(params)
    lengths = torch.tensor([3, T, 1])

    def fn(x, *rest):
        st = tuple(rest[: len(state)])
        ps = dict(zip(names, rest[len(state) :], strict=True))
        output, final = ENGINES["loop"](
            spec, x, st, ps, lengths=lengths, reverse=True, masks=NO_MASKS
        )
        return (output, *final)

    assert torch.autograd.gradcheck(fn, (x, *state, *params.values()), fast_mode=True)


def test_fused_lstm_equals_torch_lstm_with_packed_lengths(kernels):
    torch.manual_seed(5)
    lstm = torch.nn.LSTM(I, H)
    x = torch.randn(T, B, I)
    lengths = torch.tensor([4, T, 2])
    params = {k.removesuffix("_l0"): v for k, v in lstm.named_parameters()}
    state = (torch.randn(B, H), torch.randn(B, H))
    out, (h, c) = ENGINES["loop"](
        CELLS["lstm"], x, state, params, lengths=lengths, reverse=False, masks=NO_MASKS
    )
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    want, (wh, wc) = lstm(packed, tuple(s[None] for s in state))
    want, _ = torch.nn.utils.rnn.pad_packed_sequence(want, total_length=T)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, wh[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c, wc[0], rtol=1e-5, atol=1e-6)
    assert out[lengths[2] :, 2].abs().max() == 0

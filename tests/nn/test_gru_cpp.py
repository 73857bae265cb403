"""The C++ GRU-family kernels equal the cells' step functions: outputs and every gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlab.nn.cells import CELLS, LAYER_NORM_EPS
from rnnlab.nn.engines import ENGINES, NO_MASKS, StepMasks
from rnnlab.nn.engines import loop as loop_engine
from rnnlab.nn.kernels import extension

if extension.ops("gru") is None:
    pytest.skip(
        f"C++ GRU kernels unavailable: {extension.status('gru').reason}", allow_module_level=True
    )

from rnnlab.nn.kernels import gru_cpp
from rnnlab.nn.kernels.gru_cpp import GRUConfig, gru_family_sequence

T, B, H = 7, 4, 5
LENGTHS = [T, 5, 5, 1]  # sorted by decreasing length, as the loop engine passes them
VARIANTS = {
    "plain": {},
    "input_bias": {"input_bias": True},
    "layer_norm": {"layer_norm": True},
    "layer_norm_no_bias": {"layer_norm": True, "bias": False},
    "input_layer_norm_only": {"layer_norm": "input"},
    "recurrent_layer_norm_only": {"layer_norm": "recurrent"},
    "recurrent_dropout": {"dropout": True},
    "zoneout": {"zoneout": True},
    "ragged": {"ragged": True},
    "everything": {"layer_norm": True, "dropout": True, "zoneout": True, "ragged": True},
}


def _case(
    cell,
    dtype,
    *,
    layer_norm=False,
    bias=True,
    input_bias=False,
    dropout=False,
    zoneout=False,
    ragged=False,
):
    """Inputs of one call: leaves that need gradients, masks and lengths.

    ``layer_norm``: True (input and recurrent, as the layers), "input", "recurrent" or False.
    With the input LayerNorm, b_ih is a leaf of its own (``input_bias`` forces that without);
    otherwise xp stands for a projection with b_ih folded in.
    """
    gen = torch.Generator().manual_seed(0)

    def rand(*shape, scale=0.5):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * scale).requires_grad_()

    def gain():
        return (1 + rand(3 * H, scale=0.2)).detach().requires_grad_()

    ln_ih, ln_hh = layer_norm in (True, "input"), layer_norm in (True, "recurrent")
    leaves = {
        "xp": rand(T, B, 3 * H),
        "h0": rand(B, H),
        "weight_hh": rand(3 * H, H),
        "bias_hh": rand(3 * H) if bias else None,
        "ln_hh_weight": gain() if ln_hh else None,
        "ln_ih_weight": gain() if ln_ih else None,
        "bias_ih": rand(3 * H) if bias and (ln_ih or input_bias) else None,
    }
    rec_mask = (torch.rand(B, H, generator=gen) < 0.7).to(dtype) / 0.7 if dropout else None
    # (T, 1, H) as the layers draw it: the wrapper expands it over the batch.
    zone = (torch.rand(T, 1, H, generator=gen) < 0.3).to(dtype) if zoneout else None
    lengths = LENGTHS if ragged else None
    return CELLS[cell], leaves, rec_mask, zone, lengths


def _reference(spec, leaves, rec_mask, zoneout, lengths):
    """Eager loop over the cell's step function, zoneout and lengths as the loop engine's
    generic path applies them; the input LayerNorm and b_ih as ``cells.project_input``."""
    inputs = ("xp", "h0", "ln_ih_weight", "bias_ih")
    params = {k: v for k, v in leaves.items() if k not in inputs and v is not None}
    xp = leaves["xp"]
    if leaves["ln_ih_weight"] is not None:
        blocks = xp.unflatten(-1, (3, -1))
        normed = F.layer_norm(blocks, blocks.shape[-1:], eps=LAYER_NORM_EPS)
        xp = normed.flatten(-2) * leaves["ln_ih_weight"]
    if leaves["bias_ih"] is not None:
        xp = xp + leaves["bias_ih"]
    h = leaves["h0"]
    outputs = []
    for t, xw in enumerate(xp.unbind(0)):
        (new,), _ = spec.step(xw, (h,), params, rec_mask)
        if zoneout is not None:
            new = zoneout[t] * h + (1 - zoneout[t]) * new
        if lengths is not None:
            active = torch.tensor([t < length for length in lengths])[:, None]
            new = torch.where(active, new, h)
        h = new
        outputs.append(h)
    return torch.stack(outputs)


def _kernel(spec, leaves, rec_mask, zoneout, lengths):
    sizes = () if lengths is None else tuple(sum(t < n for n in lengths) for t in range(T))
    config = GRUConfig(
        batch_sizes=sizes, rec_mask=rec_mask, zoneout=zoneout, cho=spec.name == "gru-cho"
    )
    return gru_family_sequence(
        leaves["xp"],
        leaves["h0"],
        leaves["weight_hh"],
        bias_hh=leaves["bias_hh"],
        ln_hh=leaves["ln_hh_weight"],
        ln_ih=leaves["ln_ih_weight"],
        bias_ih=leaves["bias_ih"],
        config=config,
    )


def _with_grads(run, spec, leaves, *masks):
    hs = run(spec, leaves, *masks)
    weights = torch.randn(hs.shape, generator=torch.Generator().manual_seed(1), dtype=hs.dtype)
    inputs = [v for v in leaves.values() if v is not None]
    return [hs, *torch.autograd.grad((hs * weights).sum(), inputs)]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_kernel_equals_step_function_float64(cell, variant):
    spec, leaves, *masks = _case(cell, torch.float64, **VARIANTS[variant])
    got = _with_grads(_kernel, spec, leaves, *masks)
    want = _with_grads(_reference, spec, leaves, *masks)
    assert len(got) == len(want) == 1 + sum(v is not None for v in leaves.values())
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("variant", ["plain", "input_bias", "layer_norm", "everything"])
@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_kernel_equals_step_function_float32(cell, variant):
    spec, leaves, *masks = _case(cell, torch.float32, **VARIANTS[variant])
    got = _with_grads(_kernel, spec, leaves, *masks)
    want = _with_grads(_reference, spec, leaves, *masks)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_inference_keeps_one_step_and_gives_the_same_states(cell, monkeypatch):
    spec, leaves, *masks = _case(cell, torch.float32, **VARIANTS["everything"])
    library, keeps = extension.ops("gru"), []

    class Spy:  # records the `keep` flag of each forward call
        def __getattr__(self, name):
            return getattr(library, name)

        def gru_forward(self, *args):
            keeps.append(args[-1])
            return library.gru_forward(*args)

    monkeypatch.setattr(gru_cpp, "require_ops", lambda family: Spy())
    with torch.no_grad():
        hs = _kernel(spec, leaves, *masks)
    trained = _kernel(spec, leaves, *masks)
    assert keeps == [False, True]
    assert not hs.requires_grad and trained.requires_grad
    torch.testing.assert_close(hs, trained.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_gradcheck_float64_everything_on(cell):
    spec, leaves, rec_mask, zoneout, lengths = _case(cell, torch.float64, **VARIANTS["everything"])
    names = list(leaves)

    def fn(*values):
        return _kernel(spec, dict(zip(names, values, strict=True)), rec_mask, zoneout, lengths)

    assert torch.autograd.gradcheck(fn, tuple(leaves.values()), fast_mode=True)


def test_torch_form_equals_torch_nn_gru():
    torch.manual_seed(3)
    gru = torch.nn.GRU(3, H)
    x, h0 = torch.randn(T, B, 3), torch.randn(B, H)
    xp = torch.nn.functional.linear(x, gru.weight_ih_l0, gru.bias_ih_l0)
    hs = gru_family_sequence(xp, h0, gru.weight_hh_l0, bias_hh=gru.bias_hh_l0)
    want, _ = gru(x, h0[None])
    torch.testing.assert_close(hs, want, rtol=1e-5, atol=1e-6)


def test_shape_errors_are_reported():
    xp, h0 = torch.zeros(T, B, 3 * H), torch.zeros(B, H)
    with pytest.raises(RuntimeError, match=r"weight_hh must have shape \[15, 5\], got \[15, 6\]"):
        gru_family_sequence(xp, h0, torch.zeros(3 * H, H + 1))
    with pytest.raises(RuntimeError, match="batch_sizes must have T = 7 entries, got 1"):
        gru_family_sequence(xp, h0, torch.zeros(3 * H, H), config=GRUConfig(batch_sizes=(B,)))
    with pytest.raises(RuntimeError, match=r"ln_ih must have shape \[15\], got \[10\]"):
        gru_family_sequence(xp, h0, torch.zeros(3 * H, H), ln_ih=torch.ones(2 * H))


def test_expanded_output_gradient_of_a_plain_sum():
    # hs.sum() hands the backward a stride-0 gradient; the kernel must not read it as dense.
    spec, leaves, *masks = _case("gru", torch.float64, **VARIANTS["ragged"])
    (got,) = torch.autograd.grad(_kernel(spec, leaves, *masks).sum(), leaves["xp"])
    hs = _kernel(spec, leaves, *masks)
    (want,) = torch.autograd.grad((hs * torch.ones_like(hs)).sum(), leaves["xp"])
    torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_rows_split_across_threads(cell):
    # Enough rows (> 16384 / H per step) that the gate passes run on two threads.
    torch.set_num_threads(2)  # the suite's fixture restores one thread afterwards
    gen = torch.Generator().manual_seed(6)
    steps, batch, hidden = 3, 2100, 8
    lengths = torch.randint(1, steps + 1, (batch,), generator=gen).sort(descending=True).values
    leaves = {
        "xp": torch.randn(steps, batch, 3 * hidden, generator=gen, dtype=torch.float64),
        "h0": torch.randn(batch, hidden, generator=gen, dtype=torch.float64),
        "weight_hh": torch.randn(3 * hidden, hidden, generator=gen, dtype=torch.float64) * 0.3,
        "bias_hh": torch.randn(3 * hidden, generator=gen, dtype=torch.float64),
        "ln_hh_weight": torch.rand(3 * hidden, generator=gen, dtype=torch.float64) + 0.5,
        "ln_ih_weight": torch.rand(3 * hidden, generator=gen, dtype=torch.float64) + 0.5,
        "bias_ih": torch.randn(3 * hidden, generator=gen, dtype=torch.float64),
    }
    leaves = {k: v.requires_grad_() for k, v in leaves.items()}
    sizes = tuple(int((lengths > t).sum()) for t in range(steps))
    hs = gru_family_sequence(
        leaves["xp"],
        leaves["h0"],
        leaves["weight_hh"],
        bias_hh=leaves["bias_hh"],
        ln_hh=leaves["ln_hh_weight"],
        ln_ih=leaves["ln_ih_weight"],
        bias_ih=leaves["bias_ih"],
        config=GRUConfig(batch_sizes=sizes, cho=cell == "gru-cho"),
    )
    got = [hs, *torch.autograd.grad(hs.square().sum(), list(leaves.values()))]
    want_hs = _reference(CELLS[cell], leaves, None, None, lengths.tolist())
    want = [want_hs, *torch.autograd.grad(want_hs.square().sum(), list(leaves.values()))]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@pytest.fixture
def engine_runner(monkeypatch):
    """Counts the loop engine's own C++ runner for gru and gru-cho; returns the cells it ran."""
    calls = []
    for name in ("gru", "gru-cho"):
        family, wired = loop_engine.CPP_KERNELS[name]

        def runner(spec, *args, wired=wired):
            calls.append(spec.name)
            return wired(spec, *args)

        monkeypatch.setitem(loop_engine.CPP_KERNELS, name, (family, runner))
    return calls


def _engine_case(cell, dtype, layer_norm, seed=0):
    gen = torch.Generator().manual_seed(seed)
    spec = CELLS[cell]

    def rand(*shape):
        return (torch.randn(*shape, generator=gen, dtype=dtype) * 0.5).requires_grad_()

    params = {k: rand(*s) for k, s in spec.param_shapes(3, H, layer_norm=layer_norm).items()}
    return spec, rand(T, B, 3), (rand(B, H),), params


def _engine_masks(kind, dtype):
    gen = torch.Generator().manual_seed(2)
    if kind == "zoneout":
        return StepMasks(zoneout=((torch.rand(T, 1, H, generator=gen) < 0.3).to(dtype),))
    if kind == "recurrent":
        return StepMasks(recurrent=(torch.rand(B, H, generator=gen) < 0.7).to(dtype) / 0.7)
    return NO_MASKS


def _engine_with_grads(engine, spec, x, state, params, **kwargs):
    output, (final,) = ENGINES[engine](spec, x, state, params, **kwargs)
    gen = torch.Generator().manual_seed(1)
    loss = (output * torch.randn(output.shape, generator=gen, dtype=output.dtype)).sum()
    loss = loss + (final * torch.randn(final.shape, generator=gen, dtype=final.dtype)).sum()
    return [output, final, *torch.autograd.grad(loss, [x, *state, *params.values()])]


ENGINE_LENGTHS = [(None, False), ([2, T, 1, 4], True)]


@pytest.mark.parametrize(("lengths", "reverse"), ENGINE_LENGTHS)
@pytest.mark.parametrize("masks", ["none", "zoneout", "recurrent"])
@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_engine_runner_matches_reference_float64(
    cell, layer_norm, masks, lengths, reverse, engine_runner
):
    spec, x, state, params = _engine_case(cell, torch.float64, layer_norm)
    kwargs = {
        "lengths": None if lengths is None else torch.tensor(lengths),
        "reverse": reverse,
        "masks": _engine_masks(masks, torch.float64),
    }
    got = _engine_with_grads("loop", spec, x, state, params, **kwargs)
    assert engine_runner == [cell]  # the C++ path ran
    want = _engine_with_grads("reference", spec, x, state, params, **kwargs)
    assert len(got) == 4 + len(params)  # output, final state, grads of x, h0, params
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("masks", ["none", "zoneout"])
@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_engine_runner_with_layer_norm_matches_reference_float32(cell, masks, engine_runner):
    spec, x, state, params = _engine_case(cell, torch.float32, True, seed=3)
    kwargs = {
        "lengths": torch.tensor([T, 4, 4, 1]),
        "reverse": False,
        "masks": _engine_masks(masks, torch.float32),
    }
    got = _engine_with_grads("loop", spec, x, state, params, **kwargs)
    assert engine_runner == [cell]
    want = _engine_with_grads("reference", spec, x, state, params, **kwargs)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "gru-cho"])
def test_engine_runner_gradcheck_float64_layer_norm(cell, engine_runner):
    spec, x, state, params = _engine_case(cell, torch.float64, True, seed=4)
    names = list(params)
    masks = _engine_masks("recurrent", torch.float64)

    def fn(x, h0, *values):
        output, _ = ENGINES["loop"](
            spec,
            x,
            (h0,),
            dict(zip(names, values, strict=True)),
            lengths=torch.tensor([3, T, 1, 5]),
            reverse=True,
            masks=masks,
        )
        return output

    assert torch.autograd.gradcheck(fn, (x, *state, *params.values()), fast_mode=True)
    assert engine_runner and set(engine_runner) == {cell}

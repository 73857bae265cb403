"""Every cell and option: float64 gradcheck, the equations on hand-computed steps, option
semantics (LayerNorm, recurrent dropout, zoneout, forget bias), engine agreement, and the
parameter-count / FLOP formulas against built modules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import rnnlab.nn as rnn
from rnnlab.nn.cells import CELLS, get_cell, min_positive
from rnnlab.nn.engines import ENGINES, StepMasks, native, reference

STEPS, BATCH, INPUT, HIDDEN = 3, 2, 2, 3
LSTM_FORMS = [name for name, spec in CELLS.items() if spec.has_cell_state]


def _params(spec, *, layer_norm=False, proj_size=0, bias=True, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shapes = spec.param_shapes(INPUT, HIDDEN, bias=bias, proj_size=proj_size, layer_norm=layer_norm)
    return {
        name: (torch.rand(shape, dtype=torch.float64, generator=generator) - 0.5)
        .mul(1.5)
        .requires_grad_()
        for name, shape in shapes.items()
    }


def _masks(spec, proj_size, generator):
    sizes = spec.state_sizes(HIDDEN, proj_size)
    recurrent = None
    if spec.supports_recurrent_dropout:
        recurrent = torch.bernoulli(torch.full((BATCH, sizes[0]), 0.7), generator=generator) / 0.7
    zoneout = tuple(
        torch.bernoulli(torch.full((STEPS, BATCH, s), 0.3), generator=generator).double()
        for s in sizes
    )
    return StepMasks(recurrent.double() if recurrent is not None else None, zoneout)


GRADCHECK_CASES = [(name, ln, 0) for name in CELLS for ln in (False, True)] + [
    (name, False, 2) for name in LSTM_FORMS
]


@pytest.mark.parametrize(("cell", "layer_norm", "proj_size"), GRADCHECK_CASES)
def test_gradcheck_every_cell_and_option(cell, layer_norm, proj_size):
    """Reference engine, with recurrent-dropout and zoneout masks, lengths and reverse."""
    spec = get_cell(cell)
    params = _params(spec, layer_norm=layer_norm, proj_size=proj_size)
    names = list(params)
    generator = torch.Generator().manual_seed(1)
    masks = _masks(spec, proj_size, generator)
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64, requires_grad=True)
    state = tuple(
        torch.randn(BATCH, s, dtype=torch.float64, requires_grad=True)
        for s in spec.state_sizes(HIDDEN, proj_size)
    )
    lengths = torch.tensor([STEPS, 2])

    def f(x, *rest):
        state, values = rest[: len(state_)], rest[len(state_) :]
        out, final = reference.run(
            spec,
            x,
            state,
            dict(zip(names, values, strict=True)),
            lengths=lengths,
            reverse=True,
            masks=masks,
        )
        return (out, *final)

    state_ = state
    assert torch.autograd.gradcheck(f, (x, *state, *params.values()))


@pytest.mark.parametrize("cell", list(CELLS))
def test_module_gradcheck_with_layer_options(cell):
    """A whole 2-layer bidirectional stack in eval mode with every option it accepts."""
    spec = get_cell(cell)
    options = {"layer_norm": True, "zoneout": 0.2}
    if spec.supports_recurrent_dropout:
        options["recurrent_dropout"] = 0.3
    if spec.forget_gate is not None:
        options["forget_bias"] = 1.0
    torch.manual_seed(0)
    layer = rnn.make_rnn(
        cell,
        INPUT,
        HIDDEN,
        2,
        bidirectional=True,
        dtype=torch.float64,
        engine="reference",
        **options,
    ).eval()
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x)[0], (x,))


def _one_step(cell, params, x, state):
    spec = get_cell(cell)
    out, final = reference.run(
        spec, x[None], state, params, lengths=None, reverse=False, masks=StepMasks()
    )
    return out[0], final


def test_lstm_step_equations_by_hand():
    spec = get_cell("lstm")
    p = _params(spec)
    x, h, c = (
        torch.randn(BATCH, INPUT).double(),
        torch.randn(BATCH, HIDDEN).double(),
        torch.randn(BATCH, HIDDEN).double(),
    )
    pre = x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
    i, f, g, o = pre.chunk(4, -1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    _, (h_got, c_got) = _one_step("lstm", p, x, (h, c))
    torch.testing.assert_close(c_got, c_new)
    torch.testing.assert_close(h_got, h_new)


def test_peephole_lstm_equals_lstm_when_peepholes_are_zero_and_differs_otherwise():
    p = _params(get_cell("lstm-peephole"))
    x, h, c = (torch.randn(BATCH, n).double() for n in (INPUT, HIDDEN, HIDDEN))
    plain = {k: v for k, v in p.items() if not k.startswith("weight_c")}
    zeroed = plain | {
        k: torch.zeros(HIDDEN).double() for k in ("weight_ci", "weight_cf", "weight_co")
    }
    _, want = _one_step("lstm", plain, x, (h, c))
    _, got = _one_step("lstm-peephole", zeroed, x, (h, c))
    torch.testing.assert_close(got, want)
    _, other = _one_step("lstm-peephole", p, x, (h, c))
    assert not torch.allclose(other[0], want[0])


def test_cifg_forget_gate_is_one_minus_input_gate():
    layer = rnn.make_rnn("lstm-cifg", INPUT, HIDDEN, dtype=torch.float64)
    trace = layer.trace(torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64))[0]
    torch.testing.assert_close(trace["f"], 1 - trace["i"])
    assert layer.weight_ih_l0.shape == (3 * HIDDEN, INPUT)


def test_gru_cho_applies_reset_before_the_matmul():
    p = _params(get_cell("gru-cho"))
    x, h = torch.randn(BATCH, INPUT).double(), torch.randn(BATCH, HIDDEN).double()
    w_r, w_z, w_n = p["weight_hh"].chunk(3)
    b_r, b_z, b_n = p["bias_hh"].chunk(3)
    x_r, x_z, x_n = (x @ p["weight_ih"].T + p["bias_ih"]).chunk(3, -1)
    r = torch.sigmoid(x_r + h @ w_r.T + b_r)
    z = torch.sigmoid(x_z + h @ w_z.T + b_z)
    n = torch.tanh(x_n + (r * h) @ w_n.T + b_n)
    _, (got,) = _one_step("gru-cho", p, x, (h,))
    torch.testing.assert_close(got, (1 - z) * n + z * h)
    _, (torch_form,) = _one_step("gru", p, x, (h,))
    assert not torch.allclose(got, torch_form)


def test_min_cells_follow_feng_et_al():
    x = torch.randn(STEPS, BATCH, INPUT).double()
    h0 = torch.rand(BATCH, HIDDEN).double()
    for cell in ("mingru", "minlstm"):
        spec = get_cell(cell)
        p = _params(spec)
        assert set(p) == {"weight_ih", "bias_ih"} and not spec.uses_recurrent_matmul
        out, (h_last,) = reference.run(
            spec, x, (h0,), p, lengths=None, reverse=False, masks=StepMasks()
        )
        h = h0
        for t in range(STEPS):
            proj = x[t] @ p["weight_ih"].T + p["bias_ih"]
            if cell == "mingru":
                z, cand = proj.chunk(2, -1)
                z = torch.sigmoid(z)
                h = (1 - z) * h + z * min_positive(cand)
            else:
                i, f, cand = proj.chunk(3, -1)
                i, f = torch.sigmoid(i), torch.sigmoid(f)
                h = f / (f + i) * h + i / (f + i) * min_positive(cand)
            torch.testing.assert_close(out[t], h)
        torch.testing.assert_close(h_last, h)
    values = torch.tensor([-3.0, -0.1, 0.0, 2.0])
    torch.testing.assert_close(
        min_positive(values),
        torch.tensor(
            [torch.sigmoid(torch.tensor(-3.0)), torch.sigmoid(torch.tensor(-0.1)), 0.5, 2.5]
        ),
    )


def test_indrnn_has_a_recurrent_vector_initialised_in_unit_interval():
    layer = rnn.make_rnn("indrnn", INPUT, 16)
    assert layer.weight_hh_l0.shape == (16,)
    recurrent = layer.weight_hh_l0.detach()
    assert float(recurrent.min()) >= 0 and float(recurrent.max()) <= 1
    p = _params(get_cell("indrnn"))
    x, h = torch.randn(BATCH, INPUT).double(), torch.randn(BATCH, HIDDEN).double()
    _, (got,) = _one_step("indrnn", p, x, (h,))
    torch.testing.assert_close(
        got, torch.relu(x @ p["weight_ih"].T + p["bias_ih"] + p["weight_hh"] * h)
    )


def test_layer_norm_makes_the_layer_invariant_to_weight_scale():
    torch.manual_seed(0)
    layer = rnn.make_rnn("lstm", 4, 16, layer_norm=True, dtype=torch.float64)
    x = torch.randn(STEPS, BATCH, 4, dtype=torch.float64)
    with torch.no_grad():  # large weights first: LayerNorm's eps matters ~eps/variance
        layer.weight_ih_l0.mul_(30.0)
        layer.weight_hh_l0.mul_(30.0)
    before = layer(x)[0]
    with torch.no_grad():
        layer.weight_ih_l0.mul_(7.0)
        layer.weight_hh_l0.mul_(3.0)
    torch.testing.assert_close(layer(x)[0], before, atol=1e-6, rtol=1e-6)
    plain = rnn.make_rnn("lstm", 4, 16, dtype=torch.float64)
    plain.load_state_dict({k: v for k, v in layer.state_dict().items() if not k.startswith("ln_")})
    assert not torch.allclose(plain(x)[0], before)


def test_recurrent_dropout_uses_one_mask_per_sequence_on_h():
    torch.manual_seed(0)
    layer = rnn.make_rnn("rnn-tanh", INPUT, HIDDEN, recurrent_dropout=0.5, dtype=torch.float64)
    x = torch.randn(4, BATCH, INPUT, dtype=torch.float64)
    torch.manual_seed(7)
    (masks,) = layer.draw_masks(BATCH, 4, x)
    assert set(masks.recurrent.unique().tolist()) <= {0.0, 2.0}
    torch.manual_seed(7)
    out = layer(x)[0]
    p = layer.layer_params(0)
    h = torch.zeros(BATCH, HIDDEN, dtype=torch.float64)
    for t in range(4):
        pre = F.linear(x[t], p["weight_ih"], p["bias_ih"])
        h = torch.tanh(pre + F.linear(h * masks.recurrent, p["weight_hh"], p["bias_hh"]))
        torch.testing.assert_close(out[t], h)
    layer.eval()
    reference_layer = rnn.make_rnn("rnn-tanh", INPUT, HIDDEN, dtype=torch.float64)
    reference_layer.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x)[0], reference_layer(x)[0])


def test_zoneout_keeps_previous_state_with_probability_p():
    torch.manual_seed(0)
    rate = 0.25
    layer = rnn.make_rnn("gru", INPUT, HIDDEN, zoneout=rate, dtype=torch.float64).eval()
    plain = rnn.make_rnn("gru", INPUT, HIDDEN, dtype=torch.float64)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(4, BATCH, INPUT, dtype=torch.float64)
    out = layer(x)[0]
    h = torch.zeros(BATCH, HIDDEN, dtype=torch.float64)
    for t in range(4):
        _, candidate = plain(x[t : t + 1], h[None])
        h = rate * h + (1 - rate) * candidate[0]
        torch.testing.assert_close(out[t], h)
    layer.train()
    torch.manual_seed(3)
    (masks,) = layer.draw_masks(BATCH, 4, x)
    assert set(masks.zoneout[0].unique().tolist()) <= {0.0, 1.0}
    torch.manual_seed(3)
    out_train = layer(x)[0]
    h = torch.zeros(BATCH, HIDDEN, dtype=torch.float64)
    for t in range(4):
        _, candidate = plain(x[t : t + 1], h[None])
        m = masks.zoneout[0][t]
        h = m * h + (1 - m) * candidate[0]
        torch.testing.assert_close(out_train[t], h)


@pytest.mark.parametrize("cell", [c for c in CELLS if CELLS[c].forget_gate is not None])
def test_forget_bias_initialises_the_forget_gate(cell):
    spec = get_cell(cell)
    layer = rnn.make_rnn(cell, INPUT, HIDDEN, 2, bidirectional=True, forget_bias=1.0)
    block, sign = spec.forget_gate
    rows = slice(block * HIDDEN, (block + 1) * HIDDEN)
    for name, param in layer.named_parameters():
        if name.startswith("bias_ih"):
            assert torch.all(param[rows] == sign * 1.0), name
        if name.startswith("bias_hh"):
            assert torch.all(param[rows] == 0.0), name
    # with zero input, weights and state, the keep-memory gate equals sigmoid(1)
    with torch.no_grad():
        for name, param in layer.named_parameters():
            if name.startswith("weight"):
                param.zero_()
            elif name.startswith("bias"):
                param.copy_(torch.where(param.abs() == 1.0, param, torch.zeros_like(param)))
    record = layer.trace(torch.zeros(1, 1, INPUT))[0]
    keep = {"z": record.get("z"), "f": record.get("f")}
    gate = keep["f"] if keep["f"] is not None else keep["z"]
    expected = torch.sigmoid(torch.tensor(1.0))
    if cell == "mingru":
        expected = 1 - expected  # h = (1 - z) h + z n: z is the write gate
    if cell == "minlstm":
        expected = expected / (expected + 0.5)  # normalised by the input gate sigmoid(0)
    torch.testing.assert_close(gate, torch.full_like(gate, float(expected)))


def test_drop_in_layers_keep_torch_initialisation_by_default():
    layer = rnn.LSTM(INPUT, HIDDEN)
    bound = HIDDEN**-0.5
    for param in layer.parameters():
        assert float(param.detach().abs().max()) <= bound


@pytest.mark.parametrize("cell", list(CELLS))
def test_param_count_and_count_params_match_built_modules(cell):
    spec = get_cell(cell)
    cases = [
        {},
        {"bias": False},
        {"layer_norm": True},
        {"num_layers": 3, "bidirectional": True, "layer_norm": True},
    ]
    if spec.supports_proj:
        cases.append({"num_layers": 2, "bidirectional": True, "proj_size": 2})
    for options in cases:
        layer = rnn.make_rnn(cell, 5, 4, **options)
        built = sum(p.numel() for p in layer.parameters())
        assert rnn.count_params(cell, 5, 4, **options, dropout=0.1, zoneout=0.2) == built, options
        single = {k: v for k, v in options.items() if k not in ("num_layers", "bidirectional")}
        one_layer = rnn.make_rnn(cell, 5, 4, **single)
        assert spec.param_count(5, 4, **single) == sum(p.numel() for p in one_layer.parameters())


def test_param_counts_of_torch_layers():
    assert rnn.count_params("lstm", 10, 20) == sum(
        p.numel() for p in torch.nn.LSTM(10, 20).parameters()
    )
    assert rnn.count_params("gru", 10, 20, 2, True) == sum(
        p.numel() for p in torch.nn.GRU(10, 20, 2, bidirectional=True).parameters()
    )
    assert rnn.count_params("lstm", 10, 20, 2, proj_size=5) == sum(
        p.numel() for p in torch.nn.LSTM(10, 20, 2, proj_size=5).parameters()
    )


def test_flops_per_step_counts_matrix_products():
    assert CELLS["lstm"].flops_per_step(10, 20) == 2 * (4 * 20 * 10 + 4 * 20 * 20)
    assert CELLS["lstm"].flops_per_step(10, 20, proj_size=5) == 2 * (80 * 10 + 80 * 5 + 5 * 20)
    assert CELLS["gru"].flops_per_step(10, 20) == 2 * (60 * 10 + 60 * 20)
    assert CELLS["mingru"].flops_per_step(10, 20) == 2 * (40 * 10)
    assert CELLS["indrnn"].flops_per_step(10, 20) == 2 * (20 * 10 + 20)
    # measured: multiply-adds of the layer's matmuls on one step of one sample
    for name, spec in CELLS.items():
        layer = rnn.make_rnn(name, 10, 20)
        macs = sum(
            p.numel()
            for n, p in layer.named_parameters()
            if n.startswith("weight_") and not n.startswith("weight_c")
        )
        assert spec.flops_per_step(10, 20) == 2 * macs, name


@pytest.mark.parametrize("mode", ["lstm", "lstm-proj", "gru", "rnn-tanh", "rnn-relu"])
def test_native_per_layer_run_matches_reference(mode):
    spec = get_cell("lstm" if mode == "lstm-proj" else mode)
    proj = 2 if mode == "lstm-proj" else 0
    params = _params(spec, proj_size=proj)
    x = torch.randn(4, 3, INPUT, dtype=torch.float64)
    state = tuple(torch.randn(3, s, dtype=torch.float64) for s in spec.state_sizes(HIDDEN, proj))
    for lengths in (None, torch.tensor([2, 4, 1])):
        for reverse in (False, True):
            kwargs = {"lengths": lengths, "reverse": reverse, "masks": StepMasks()}
            want = reference.run(spec, x, state, params, **kwargs)
            got = native.run(spec, x, state, params, **kwargs)
            torch.testing.assert_close(got[0], want[0])
            for a, b in zip(got[1], want[1], strict=True):
                torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", list(CELLS))
def test_every_registered_engine_agrees_with_reference(cell):
    spec = get_cell(cell)
    torch.manual_seed(0)
    base = rnn.make_rnn(
        cell, INPUT, HIDDEN, 2, bidirectional=True, dtype=torch.float64, engine="reference"
    )
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    want = base(x, lengths=torch.tensor([STEPS, 1]))
    for engine in ENGINES:
        if engine == "reference" or not rnn.engines.ENGINE_SUPPORTS[engine](spec, base.options):
            continue
        other = rnn.make_rnn(
            cell, INPUT, HIDDEN, 2, bidirectional=True, dtype=torch.float64, engine=engine
        )
        other.load_state_dict(base.state_dict())
        got = other(x, lengths=torch.tensor([STEPS, 1]))
        torch.testing.assert_close(got[0], want[0], msg=f"{engine} output")


def test_auto_engine_choice():  # per device and mode: tests/nn/test_engine_auto.py
    options = rnn.make_rnn("lstm", 2, 3).options
    assert rnn.engines.resolve_engine("auto", CELLS["lstm"], options) == "native"
    assert rnn.make_rnn("lstm", 2, 3).engine == "auto"
    assert rnn.make_rnn("gru", 2, 3, engine="reference").engine == "reference"
    with pytest.raises(ValueError, match="does not support cell 'gru-cho'"):
        rnn.make_rnn("gru-cho", 2, 3, engine="native")
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        rnn.make_rnn("gru", 2, 3, engine="fast")

"""rnnlab.nn.LSTM/GRU/RNN against torch.nn: outputs, final states and every gradient, for the
reference, native and auto engines (auto: what it picks here, the C++ loop when it is built),
over layers, directions, batch_first, projection, initial state, packed variable-length batches
and inter-layer dropout in eval mode."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import rnnlab.nn as rnn

# torch's own note that projected LSTMs skip oneDNN (for torch.nn.LSTM and for our native engine)
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

# (rnnlab class, torch class, extra constructor kwargs)
MODES = {
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "lstm-proj": (rnn.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
    "rnn-tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}

# (num_layers, bidirectional, batch_first, give h0, packed lengths or None, dropout)
CONFIGS = [
    (1, False, False, False, None, 0.0),
    (1, True, True, True, None, 0.0),
    (2, False, True, True, [5, 1, 3], 0.0),  # packed, unsorted, with a length-1 sequence
    (2, True, False, False, [5, 4, 1], 0.5),  # packed sorted; dropout inactive in eval
    (3, True, False, True, None, 0.3),
    (3, False, False, False, [1, 5, 2], 0.0),
]

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
INPUT, HIDDEN, STEPS, BATCH = 3, 5, 5, 3


def _states(h):
    return h if isinstance(h, tuple) else (h,)


def _pair(mode, config, engine, dtype, seed=0):
    ours_cls, torch_cls, extra = MODES[mode]
    layers, bidirectional, batch_first, _, _, dropout = config
    kwargs = {"bidirectional": bidirectional, "batch_first": batch_first, "dropout": dropout}
    kwargs |= extra
    torch.manual_seed(seed)
    theirs = torch_cls(INPUT, HIDDEN, layers, dtype=dtype, **kwargs).eval()
    ours = ours_cls(INPUT, HIDDEN, layers, dtype=dtype, engine=engine, **kwargs).eval()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _inputs(mode, config, dtype, generator):
    layers, bidirectional, batch_first, give_h0, lengths, _ = config
    shape = (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT)
    x = torch.randn(shape, dtype=dtype, generator=generator)
    hx = None
    if give_h0:
        directions = 2 if bidirectional else 1
        h_size = MODES[mode][2].get("proj_size", 0) or HIDDEN
        sizes = (h_size, HIDDEN) if mode.startswith("lstm") else (h_size,)
        hx = tuple(
            torch.randn(layers * directions, BATCH, s, dtype=dtype, generator=generator)
            for s in sizes
        )
    return x, hx, lengths


def _run(module, x, hx, lengths, batch_first):
    x = x.clone().requires_grad_()
    leaves = [x]
    if hx is not None:
        hx = tuple(h.clone().requires_grad_() for h in hx)
        leaves += list(hx)
    inp = x
    if lengths is not None:
        inp = pack_padded_sequence(
            x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
    state = None if hx is None else (hx if len(hx) == 2 else hx[0])
    output, final = module(inp, state)
    out = output.data if isinstance(output, PackedSequence) else output
    generator = torch.Generator().manual_seed(1)
    loss = (out * torch.randn(out.shape, dtype=out.dtype, generator=generator)).sum()
    for s in _states(final):
        loss = loss + (s * torch.randn(s.shape, dtype=s.dtype, generator=generator)).sum()
    grads = torch.autograd.grad(loss, leaves + list(module.parameters()))
    return output, _states(final), grads


# every config in float64 (1e-10); a covering subset in float32 (1e-5) to keep the suite fast
CASES = [(config, torch.float64) for config in CONFIGS]
CASES += [(CONFIGS[i], torch.float32) for i in (1, 2, 4)]


def _case_id(case):
    config, dtype = case
    return "-".join(map(str, config)).replace(" ", "") + (
        "-f32" if dtype == torch.float32 else "-f64"
    )


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("engine", ["reference", "native", "auto"])
def test_outputs_and_gradients_match_torch(engine, mode, case):
    config, dtype = case
    ours, theirs = _pair(mode, config, engine, dtype)
    assert ours.engine == engine
    x, hx, lengths = _inputs(mode, config, dtype, torch.Generator().manual_seed(2))
    out_o, fin_o, grads_o = _run(ours, x, hx, lengths, config[2])
    out_t, fin_t, grads_t = _run(theirs, x, hx, lengths, config[2])
    tol = TOLERANCE[dtype]
    if isinstance(out_t, PackedSequence):
        assert isinstance(out_o, PackedSequence)
        assert torch.equal(out_o.batch_sizes, out_t.batch_sizes)
        assert torch.equal(out_o.sorted_indices, out_t.sorted_indices)
        assert torch.equal(out_o.unsorted_indices, out_t.unsorted_indices)
        out_o, out_t = out_o.data, out_t.data
    assert out_o.shape == out_t.shape
    torch.testing.assert_close(out_o, out_t, atol=tol, rtol=tol)
    for a, b in zip(fin_o, fin_t, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    assert len(grads_o) == len(grads_t)
    for a, b in zip(grads_o, grads_t, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("engine", ["reference", "native", "auto"])
def test_unbatched_input(engine, mode):
    ours, theirs = _pair(mode, (2, True, True, False, None, 0.0), engine, torch.float64)
    x = torch.randn(STEPS, INPUT, dtype=torch.float64)
    h_size = MODES[mode][2].get("proj_size", 0) or HIDDEN
    hx = torch.randn(4, h_size, dtype=torch.float64)
    state = (hx, torch.randn(4, HIDDEN, dtype=torch.float64)) if mode.startswith("lstm") else hx
    for s in (None, state):
        out_o, fin_o = ours(x, s)
        out_t, fin_t = theirs(x, s)
        assert out_o.shape == out_t.shape == (STEPS, 2 * h_size)
        torch.testing.assert_close(out_o, out_t, atol=1e-10, rtol=1e-10)
        for a, b in zip(_states(fin_o), _states(fin_t), strict=True):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("mode", list(MODES))
def test_state_dict_layout_and_loading_both_ways(mode):
    ours, theirs = _pair(mode, (2, True, False, False, None, 0.0), "auto", torch.float32)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in theirs_sd:
        assert ours_sd[key].shape == theirs_sd[key].shape, key
    # ours -> torch: a fresh torch layer takes our (differently seeded) weights
    torch.manual_seed(99)
    source = MODES[mode][0](
        INPUT, HIDDEN, 2, bidirectional=True, **MODES[mode][2]
    )  # rnnlab layer with other weights
    theirs.load_state_dict(source.state_dict())
    x = torch.randn(STEPS, BATCH, INPUT)
    torch.testing.assert_close(theirs(x)[0], source(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", list(MODES))
def test_seeded_construction_gives_torch_initial_weights(mode):
    ours_cls, torch_cls, extra = MODES[mode]
    torch.manual_seed(3)
    theirs = torch_cls(INPUT, HIDDEN, 2, bidirectional=True, **extra)
    torch.manual_seed(3)
    ours = ours_cls(INPUT, HIDDEN, 2, bidirectional=True, **extra)
    for (name_o, p_o), (name_t, p_t) in zip(
        ours.named_parameters(), theirs.named_parameters(), strict=True
    ):
        assert name_o == name_t
        assert torch.equal(p_o, p_t)


@pytest.mark.parametrize("engine", ["native", "auto"])
def test_training_dropout_matches_torch_under_same_seed(engine):
    ours, theirs = _pair("lstm", (3, True, False, False, None, 0.5), engine, torch.float64)
    ours.train()
    theirs.train()
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    torch.manual_seed(5)
    out_t = theirs(x)[0]
    torch.manual_seed(5)
    out_o = ours(x)[0]
    torch.testing.assert_close(out_o, out_t, atol=1e-12, rtol=1e-12)


def test_positional_arguments_follow_torch_signatures():
    lstm = rnn.LSTM(3, 4, 2, False, True, 0.0, True, 2)
    assert (lstm.bias, lstm.batch_first, lstm.bidirectional, lstm.proj_size) == (
        False,
        True,
        True,
        2,
    )
    gru = rnn.GRU(3, 4, 1, True, True)
    assert gru.batch_first and gru.cell == "gru"
    relu = rnn.RNN(3, 4, 1, "relu", False)
    assert relu.cell == "rnn-relu" and relu.nonlinearity == "relu" and not relu.bias
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn.RNN(3, 4, nonlinearity="gelu")


@pytest.mark.parametrize("mode", ["lstm-proj", "gru"])
@pytest.mark.parametrize("engine", ["reference", "native", "auto"])
def test_padded_input_with_lengths_equals_packed_torch(engine, mode):
    ours, theirs = _pair(mode, (2, True, True, False, None, 0.0), engine, torch.float64)
    x = torch.randn(BATCH, STEPS, INPUT, dtype=torch.float64)
    lengths = torch.tensor([2, STEPS, 1])
    out, final = ours(x, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_t, final_t = theirs(packed)
    padded_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True)
    torch.testing.assert_close(out, padded_t)  # zeros at padded steps, like pad_packed_sequence
    for a, b in zip(_states(final), _states(final_t), strict=True):
        torch.testing.assert_close(a, b)


def test_all_weights_like_torch():
    ours, theirs = _pair("lstm-proj", (2, True, False, False, None, 0.0), "auto", torch.float32)
    assert [[w.shape for w in ws] for ws in ours.all_weights] == [
        [w.shape for w in ws] for ws in theirs.all_weights
    ]


def test_mode_and_nonlinearity_attributes_like_torch():
    for ours, theirs in [
        (rnn.LSTM(2, 3), torch.nn.LSTM(2, 3)),
        (rnn.GRU(2, 3), torch.nn.GRU(2, 3)),
        (rnn.RNN(2, 3), torch.nn.RNN(2, 3)),
        (rnn.RNN(2, 3, nonlinearity="relu"), torch.nn.RNN(2, 3, nonlinearity="relu")),
    ]:
        assert ours.mode == theirs.mode
    assert rnn.RNN(2, 3, nonlinearity="relu").nonlinearity == "relu"


@pytest.mark.parametrize("engine", ["reference", "native", "auto"])
def test_autocast_accepts_lower_precision_input_like_torch(engine):
    ours, theirs = _pair("lstm", (1, False, False, False, None, 0.0), engine, torch.float32)
    x = torch.randn(STEPS, BATCH, INPUT)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_t = theirs(x.bfloat16())[0]
        out_o = ours(x.bfloat16())[0]
    if engine != "reference":  # the same fused op under the same autocast policy (auto: too)
        torch.testing.assert_close(out_o, out_t, atol=0, rtol=0)
    torch.testing.assert_close(out_o.float(), theirs(x)[0], atol=0.05, rtol=0)

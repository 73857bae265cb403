"""``engine="auto"``: which engine each cell runs per device, dtype and mode, that forward really
runs it, and that the numbers stay torch.nn's (the parity tests also run ``auto``)."""

from __future__ import annotations

import pytest
import torch

import rnnlab.nn as rnn
from rnnlab.nn import engines
from rnnlab.nn.kernels import extension

# (cell, options) -> (training on CPU, inference on CPU) when the C++ kernels are available
CPU_CHOICES = {
    ("lstm", ()): ("loop", "native"),
    ("gru", ()): ("loop", "loop"),
    ("rnn-tanh", ()): ("loop", "loop"),
    ("rnn-relu", ()): ("loop", "loop"),
    ("lstm", (("proj_size", 2),)): ("native", "native"),  # no C++ kernel with projection
    ("lstm", (("layer_norm", True),)): ("loop", "loop"),  # torch has no LayerNorm LSTM
    ("gru", (("zoneout", 0.1),)): ("loop", "loop"),
    ("gru-cho", ()): ("loop", "loop"),
    ("lstm-peephole", ()): ("loop", "loop"),
    ("mingru", ()): ("scan", "scan"),
    ("minlstm", ()): ("scan", "scan"),
}


def _choice(layer, x, *, training):
    with torch.set_grad_enabled(training):
        return layer.engine_for(x)


@pytest.mark.parametrize(("cell", "options"), list(CPU_CHOICES), ids=str)
def test_auto_choice_per_cell_device_dtype_and_mode(cell, options):
    layer = rnn.make_rnn(cell, 3, 4, **dict(options))
    assert layer.engine == "auto"
    train, infer = CPU_CHOICES[cell, options]
    if not extension.can_run("lstm", torch.zeros(1)):  # no compiler here: torch's kernels
        train, infer = (
            "native" if e == "loop" and cell in ("lstm", "gru", "rnn-tanh", "rnn-relu") else e
            for e in (train, infer)
        )
    x = torch.zeros(5, 2, 3)
    assert _choice(layer, x, training=True) == train
    assert _choice(layer, x, training=False) == infer
    assert _choice(layer.double(), x.double(), training=True) == train
    # elsewhere than the CPU (cuDNN there) and in half precision, torch's kernel where it has one
    static = engines.resolve_engine("auto", layer.spec, layer.options)
    for other in (torch.zeros(5, 2, 3, device="meta"), torch.zeros(5, 2, 3).half()):
        for training in (True, False):
            assert _choice(layer, other, training=training) == static
    with torch.autocast("cpu", dtype=torch.bfloat16):  # torch's kernels follow autocast
        assert _choice(layer, x, training=True) == static


def test_stacked_dropout_in_training_keeps_torchs_kernel_for_its_random_draws():
    layer = rnn.GRU(3, 4, 2, dropout=0.5)
    x = torch.zeros(5, 2, 3)
    layer.train()
    assert _choice(layer, x, training=True) == "native"
    layer.eval()  # dropout is off in eval: the fast engine again
    assert _choice(layer, x, training=True) == _choice(rnn.GRU(3, 4, 2), x, training=True)


def test_explicit_engines_are_kept():
    assert rnn.GRU(3, 4, engine="native").engine_for(torch.zeros(5, 2, 3)) == "native"
    assert rnn.LSTM(3, 4, engine="reference").engine_for(torch.zeros(5, 2, 3)) == "reference"


@pytest.mark.skipif(
    not extension.can_run("gru", torch.zeros(1)), reason="the C++ kernels cannot be built here"
)
def test_forward_runs_the_chosen_engine(monkeypatch):
    calls = []
    loop_run = engines.ENGINES["loop"]

    def counted(*args, **kwargs):
        calls.append(1)
        return loop_run(*args, **kwargs)

    monkeypatch.setitem(engines.ENGINES, "loop", counted)
    gru, lstm = rnn.GRU(3, 4, 2), rnn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    gru(x)[0].sum().backward()
    assert len(calls) == 2 and gru.engine_used == "loop-cpp"  # one call per layer
    with torch.no_grad():
        lstm(x)
    assert len(calls) == 2 and lstm.engine_used == "native"  # LSTM inference: torch's kernel
    lstm(x)
    assert len(calls) == 3 and lstm.engine_used == "loop-cpp"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gru(x)[0].float().sum().backward()  # torch's kernel: the C++ ones are float32/64 only
    assert len(calls) == 3 and gru.engine_used == "native"
    assert repr(gru).endswith("engine='auto', engine_used='native')")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
def test_auto_in_training_equals_torch_nn(mode, dtype):
    """What ``rnnlab fit`` and comparisons do: train-mode forward and backward, bidirectional,
    two layers, padded lengths; outputs, final states and every gradient equal torch.nn's."""
    ours_cls, torch_cls = {
        "lstm": (rnn.LSTM, torch.nn.LSTM),
        "gru": (rnn.GRU, torch.nn.GRU),
        "rnn": (rnn.RNN, torch.nn.RNN),
    }[mode]
    torch.manual_seed(0)
    theirs = torch_cls(3, 5, 2, bidirectional=True, batch_first=True, dtype=dtype)
    ours = ours_cls(3, 5, 2, bidirectional=True, batch_first=True, dtype=dtype)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 7, 3, dtype=dtype)
    lengths = torch.tensor([7, 2, 5, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, True, enforce_sorted=False)
    results = []
    for module in (ours, theirs):
        out, final = module(packed)
        final = final if isinstance(final, tuple) else (final,)
        loss = (out.data**2).sum() + sum((s**3).sum() for s in final)
        grads = torch.autograd.grad(loss, list(module.parameters()))
        results.append((out.data, *final, *grads))
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)

"""Recurrent.engine_used names the implementation the last forward actually ran."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn import make_rnn
from rnnlab.nn.engines import loop, scan
from rnnlab.nn.kernels import extension
from rnnlab.nn.recurrent import IMPLEMENTATIONS


@pytest.fixture
def ran(monkeypatch):
    """Wrap the loop and scan engines' paths so each records its name when it runs."""
    calls: list[str] = []

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(loop, "_fused", spy("loop-fused", loop._fused))
    monkeypatch.setattr(loop, "_generic", spy("loop-generic", loop._generic))
    for cell, (family, runner) in list(loop.CPP_KERNELS.items()):
        monkeypatch.setitem(loop.CPP_KERNELS, cell, (family, spy("loop-cpp", runner)))
    monkeypatch.setattr(scan, "min_recurrence", spy("scan-cpp", scan.min_recurrence))
    monkeypatch.setattr(scan, "_chunked", spy("scan-chunked", scan._chunked))
    return calls


def _no_extension(monkeypatch):
    monkeypatch.setattr(extension, "ops", lambda family: None)


CASES = [
    # cell, engine, extension on, options, expected
    ("gru", "native", True, {}, "native"),
    ("lstm", "reference", True, {}, "reference"),
    ("lstm", "loop", True, {}, "loop-cpp"),
    ("lstm", "loop", False, {}, "loop-fused"),
    ("lstm-peephole", "loop", False, {}, "loop-generic"),
    ("gru", "loop", False, {"zoneout": 0.2}, "loop-generic"),
    ("mingru", "scan", True, {}, "scan-cpp"),
    ("minlstm", "scan", False, {}, "scan-chunked"),
]


@pytest.mark.parametrize(("cell", "engine", "cpp", "options", "expected"), CASES)
def test_engine_used_is_the_code_that_ran(ran, monkeypatch, cell, engine, cpp, options, expected):
    family = loop.CPP_KERNELS[cell][0] if engine == "loop" and cell in loop.CPP_KERNELS else None
    family = scan.CPP_FAMILY if engine == "scan" else family
    if cpp and family is not None and extension.ops(family) is None:
        pytest.skip(f"the {family} C++ library is not built here")
    if not cpp:
        _no_extension(monkeypatch)
    rnn = make_rnn(cell, 3, 4, 2, bidirectional=True, engine=engine, **options)
    assert rnn.engine_used is None and "engine_used" not in repr(rnn)
    rnn(torch.randn(5, 2, 3))
    assert rnn.engine_used == expected and expected in IMPLEMENTATIONS
    if engine in ("loop", "scan"):  # every layer and direction ran that path, and only that
        assert ran == [expected] * 4
    text = repr(rnn)
    assert "\n" not in text and text.endswith(f"engine={engine!r}, engine_used={expected!r})")


def test_engine_used_follows_the_last_forward(monkeypatch):
    if extension.ops("lstm") is None:
        pytest.skip("the lstm C++ library is not built here")
    rnn = make_rnn("lstm", 3, 4, engine="loop")
    rnn(torch.randn(5, 2, 3))
    assert rnn.engine_used == "loop-cpp"
    _no_extension(monkeypatch)  # as on a machine without a compiler: the PyTorch fallback
    rnn(torch.randn(5, 2, 3))
    assert rnn.engine_used == "loop-fused"

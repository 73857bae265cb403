"""The C++ kernel libraries: built once and cached, a clean fallback when they cannot be."""

from __future__ import annotations

import os

import pytest
import torch

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS
from rnnlab.nn.engines.loop import kernel_path
from rnnlab.nn.kernels import extension


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty per-process status cache and build cache."""
    monkeypatch.setattr(extension, "_statuses", {})
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.skipif(os.environ.get("RNNLAB_EXTENSION") == "0", reason="disabled by the user")
@pytest.mark.parametrize("family", extension.FAMILIES)
def test_every_family_builds_here_and_is_cached_per_process(family):
    first = extension.status(family)
    assert first.available, first.reason
    assert extension.status(family) is first
    assert os.path.exists(os.path.join(first.directory, f"rnnlab_{family}.so"))


def test_build_directory_changes_with_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path))
    source = tmp_path / "k.cpp"
    source.write_text("int a;")
    before = extension._build_directory("rnnlab_k", [source])
    assert extension._build_directory("rnnlab_k", [source]) == before
    source.write_text("int b;")
    assert extension._build_directory("rnnlab_k", [source]) != before
    assert before.parent == tmp_path / "extensions"


def test_a_failed_build_falls_back_and_says_why(fresh, monkeypatch):
    sources = fresh / "csrc"
    sources.mkdir()
    (sources / "broken.cpp").write_text("this is not C++\n")
    monkeypatch.setattr(extension, "SOURCES_DIR", sources)
    monkeypatch.setattr(extension, "FAMILIES", ("broken",))
    with pytest.warns(UserWarning, match="C\\+\\+ kernels unavailable"):
        status = extension.status("broken")
    assert not status.available
    assert status.reason.startswith("build failed") and "error" in status.reason
    assert extension.ops("broken") is None


def test_missing_tools_fall_back(fresh, monkeypatch):
    monkeypatch.setattr(extension.shutil, "which", lambda tool: None)
    status = extension.status("lstm")
    assert not status.available
    assert status.reason == "not found on PATH: c++, ninja"


def test_disabled_by_environment(fresh, monkeypatch):
    monkeypatch.setenv("RNNLAB_EXTENSION", "0")
    assert extension.ops("lstm") is None
    spec = CELLS["lstm-peephole"]
    params = {k: torch.randn(s) for k, s in spec.param_shapes(3, 4).items()}
    assert kernel_path(spec, params, NO_MASKS, torch.zeros(2, 1, 3)) == "generic"


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="no C\\+\\+ kernels for family 'tcn'"):
        extension.status("tcn")


@pytest.mark.skipif(extension.ops("lstm") is None, reason="C++ kernels not built")
def test_fast_math_flags_do_not_leak_into_the_process():
    # -ffast-math at link time would switch the process to flush denormals to zero.
    tiny = torch.tensor([1e-39], dtype=torch.float32)
    assert (tiny * 1.0).item() > 0


@pytest.mark.skipif(extension.ops("lstm") is None, reason="C++ kernels not built")
def test_saturated_gates_and_nan_propagate_like_the_reference():
    spec = CELLS["lstm"]
    gen = torch.Generator().manual_seed(0)
    params = {k: torch.randn(s, generator=gen) * 30 for k, s in spec.param_shapes(3, 4).items()}
    x = torch.randn(5, 2, 3, generator=gen) * 30
    state = (torch.zeros(2, 4), torch.zeros(2, 4))
    kwargs = {"lengths": None, "reverse": False, "masks": NO_MASKS}
    got, _ = ENGINES["loop"](spec, x, state, params, **kwargs)
    want, _ = ENGINES["reference"](spec, x, state, params, **kwargs)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    x[2, 1, 0] = float("nan")
    got, (h, c) = ENGINES["loop"](spec, x, state, params, **kwargs)
    assert torch.isnan(got[2:, 1]).all() and torch.isfinite(got[:, 0]).all()
    assert torch.isnan(h[1]).all() and torch.isnan(c[1]).all()


def test_other_dtypes_take_the_pytorch_paths():
    spec = CELLS["lstm"]
    params = {k: torch.randn(s) for k, s in spec.param_shapes(3, 4).items()}
    x = torch.zeros(2, 1, 3, dtype=torch.bfloat16)
    assert kernel_path(spec, params, NO_MASKS, x) == "fused"


@pytest.mark.skipif(extension.ops("lstm") is None, reason="C++ kernels not built")
def test_double_backward_is_refused_not_silently_wrong():
    spec = CELLS["lstm-peephole"]
    params = {k: torch.randn(s, requires_grad=True) for k, s in spec.param_shapes(3, 4).items()}
    x = torch.randn(5, 2, 3)
    state = (torch.zeros(2, 4), torch.zeros(2, 4))
    out, _ = ENGINES["loop"](spec, x, state, params, lengths=None, reverse=False, masks=NO_MASKS)
    # Without the guard, the gradient would silently have no graph through the recurrence.
    with pytest.raises(RuntimeError, match="first derivatives only"):
        torch.autograd.grad(out.sum(), params["weight_hh"], create_graph=True)


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("name", ["lstm-peephole", "gru-cho", "rnn-tanh", "indrnn"])
def test_plain_sum_loss_and_inference_match_the_reference(name, layer_norm):
    # out.sum() sends an expanded (stride-0) gradient into the kernels' backward; under
    # no_grad the kernels take their inference path (one step of scratch, no autograd node).
    spec = CELLS[name]
    gen = torch.Generator().manual_seed(3)
    shapes = spec.param_shapes(3, 4, layer_norm=layer_norm)
    params = {k: torch.randn(s, generator=gen, dtype=torch.float64) for k, s in shapes.items()}
    for p in params.values():
        p.requires_grad_()
    x = torch.randn(6, 2, 3, generator=gen, dtype=torch.float64)
    state = tuple(torch.zeros(2, s, dtype=torch.float64) for s in spec.state_sizes(4))
    # No lengths: the output is the kernel's own output, so its gradient arrives expanded.
    kwargs = {"lengths": None, "reverse": False, "masks": NO_MASKS}
    grads, outputs = [], []
    for engine in ("loop", "reference"):
        out, _ = ENGINES[engine](spec, x, state, params, **kwargs)
        grads.append(torch.autograd.grad(out.sum(), list(params.values())))
        with torch.no_grad():
            outputs.append(ENGINES[engine](spec, x, state, params, **kwargs)[0])
    for got, want in zip(grads[0], grads[1], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-10, atol=1e-10)
    assert outputs[0].grad_fn is None


def test_a_new_build_removes_the_older_builds_of_its_family(tmp_path):
    current = tmp_path / "rnnlab_lstm-new"
    for name in ("rnnlab_lstm-old", "rnnlab_lstm-new", "rnnlab_gru-old"):
        (tmp_path / name).mkdir()
    extension._remove_stale_builds("rnnlab_lstm", current)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rnnlab_gru-old", "rnnlab_lstm-new"]


def test_calling_a_wrapper_without_its_library_says_what_to_do(fresh, monkeypatch):
    from rnnlab.nn.kernels.gru_cpp import gru_family_sequence

    monkeypatch.setenv("RNNLAB_EXTENSION", "0")
    with pytest.raises(RuntimeError, match=r"gru kernels are unavailable .*engine='loop'"):
        gru_family_sequence(torch.zeros(2, 1, 6), torch.zeros(1, 2), torch.zeros(6, 2))


@pytest.mark.skipif(extension.ops("rnn") is None, reason="C++ kernels not built")
def test_large_buffers_are_reused_by_the_next_call_and_stay_resizable():
    # Buffers of 1 MiB and more come from the library's block cache: the next call of the same
    # size gets the freed block back (no fresh pages to fault in), with correct values.
    from rnnlab.nn.kernels.rnn_cpp import rnn_family_sequence

    gen = torch.Generator().manual_seed(0)
    xp, weight = torch.randn(600, 8, 64, generator=gen), torch.randn(64, 64, generator=gen) * 0.1
    with torch.no_grad():
        first = rnn_family_sequence(xp, torch.zeros(8, 64), weight)  # 601 x 8 x 64 floats
        address, expected = first.untyped_storage().data_ptr(), first.clone()
        del first
        # The freed block stays in the cache: malloc cannot hand it to anyone else...
        other = torch.empty(601, 8, 64)
        assert other.untyped_storage().data_ptr() != address
        # ...and the next kernel call of the same size gets it back.
        again = rnn_family_sequence(xp, torch.zeros(8, 64), weight)
    assert again.untyped_storage().data_ptr() == address
    assert torch.equal(again, expected)
    again.resize_(700, 8, 64)  # through the cache's allocator
    assert again.untyped_storage().nbytes() >= 700 * 8 * 64 * 4

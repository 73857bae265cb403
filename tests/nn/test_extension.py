"""The C++ kernel libraries: built once and cached, a clean fallback when they cannot be."""

from __future__ import annotations

import os
import time

import pytest
import torch

from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS
from rnnlab.nn.engines.loop import kernel_path
from rnnlab.nn.kernels import extension


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty per-process status cache, warning memory and build cache."""
    monkeypatch.setattr(extension, "_statuses", {})
    monkeypatch.setattr(extension, "_warned", set())
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
    monkeypatch.setattr(extension, "_locks", {"broken": extension.threading.Lock()})
    flags = (list(extension._CFLAGS), list(extension._LDFLAGS))
    with pytest.warns(UserWarning, match="C\\+\\+ kernels unavailable") as caught:
        status = extension.status("broken")
        assert extension.ops("broken") is None  # remembered: no second build, no second warning
    assert len(caught) == 1
    assert not status.available
    assert status.reason.startswith("build failed") and "error" in status.reason
    # torch appends to the flag lists it is given: ours (and so the cache key) must not change
    assert flags == (extension._CFLAGS, extension._LDFLAGS)


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


def test_only_builds_unused_for_30_days_and_unlocked_are_removed(tmp_path):
    """Other checkouts or environments sharing the cache may use (or be building) the others;
    before, every other build of the family was deleted."""
    import fcntl

    current = tmp_path / "rnnlab_lstm-new"
    names = ("rnnlab_lstm-new", "rnnlab_lstm-recent", "rnnlab_lstm-old", "rnnlab_lstm-building")
    for name in (*names, "rnnlab_gru-old"):
        (tmp_path / name).mkdir()
    month_ago = time.time() - 31 * 86400
    for name in ("rnnlab_lstm-old", "rnnlab_lstm-building", "rnnlab_gru-old"):
        os.utime(tmp_path / name, (month_ago, month_ago))
    with (tmp_path / "rnnlab_lstm-building" / extension.BUILD_LOCK).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process building there right now
        os.utime(tmp_path / "rnnlab_lstm-building", (month_ago, month_ago))
        extension._remove_stale_builds("rnnlab_lstm", current)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rnnlab_gru-old",
        "rnnlab_lstm-building",
        "rnnlab_lstm-new",
        "rnnlab_lstm-recent",
    ]


def test_cache_key_includes_the_compiler_flags_and_torch_chooses_the_standard(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path))
    source = tmp_path / "k.cpp"
    source.write_text("int a;")
    before = extension._build_directory("rnnlab_k", [source])
    monkeypatch.setattr(extension, "_CFLAGS", [*extension._CFLAGS, "-O0"])
    assert extension._build_directory("rnnlab_k", [source]) != before
    assert not [flag for flag in extension._CFLAGS if flag.startswith("-std")]


def test_unwritable_cache_falls_back_once_per_process_with_one_warning(fresh, monkeypatch):
    """Before, the mkdir outside the try raised on every call."""
    blocker = fresh / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(blocker / "cache"))  # cannot be a directory
    with pytest.warns(UserWarning, match="cannot use the build cache") as caught:
        statuses = [extension.status(family) for family in ("lstm", "gru", "lstm")]
        assert extension.ops("gru") is None
    assert len(caught) == 1
    assert not any(s.available for s in statuses) and statuses[0] is statuses[2]
    assert "cannot use the build cache" in statuses[1].reason


def test_a_live_build_lock_is_waited_for_at_most_the_timeout_then_named(fresh, monkeypatch):
    import fcntl

    monkeypatch.setenv("RNNLAB_BUILD_LOCK_TIMEOUT_S", "0.5")
    source = extension.SOURCES_DIR / "gru.cpp"
    directory = extension._build_directory(
        "rnnlab_gru", [source, *sorted(extension.SOURCES_DIR.glob("*.h"))]
    )
    directory.mkdir(parents=True)
    lock = directory / extension.BUILD_LOCK
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live process holding it (flock is per open file)
        with pytest.warns(UserWarning, match=f"build lock {lock}.*delete that file"):
            status = extension.status("gru")
    assert not status.available and str(lock) in status.reason
    assert not (directory / "rnnlab_gru.so").exists()


def test_one_family_waiting_does_not_block_the_others(fresh, monkeypatch):
    import threading

    release = threading.Event()
    real_load = extension._load

    def load(family):
        if family == "gru":
            release.wait(60)  # e.g. waiting on another process's build lock
            return extension.ExtensionStatus(False, 0.0, False, "test", "")
        return real_load(family)

    monkeypatch.setattr(extension, "_load", load)
    monkeypatch.setenv("RNNLAB_EXTENSION", "0")
    waiting = threading.Thread(target=extension.status, args=("gru",), daemon=True)
    waiting.start()
    other = threading.Thread(target=extension.status, args=("lstm",), daemon=True)
    other.start()
    other.join(timeout=30)
    finished_while_gru_waits = not other.is_alive()
    release.set()
    waiting.join(timeout=30)
    assert finished_while_gru_waits


_LOAD_IN_CHILD = """
import json, sys, torch
from rnnlab.nn.kernels import extension
status = extension.status(sys.argv[1])
out = None
if status.available:
    xw, h0 = torch.randn(3, 2, 8), torch.zeros(2, 4)
    out = torch.ops.rnnlab.minrnn_forward(xw, h0, [], None, False).shape[0]
print(json.dumps({"available": status.available, "built": status.built,
                  "reason": status.reason, "steps": out}))
"""


def _copy_of_the_minrnn_build(cache):
    """This process's minrnn build (sources, object, ninja files) copied into ``cache``."""
    import shutil

    built = extension.status("minrnn")
    if not built.available:
        pytest.skip(f"C++ minrnn kernels unavailable: {built.reason}")
    target = cache / "extensions" / os.path.basename(built.directory)
    shutil.copytree(built.directory, target)
    (target / extension.BUILD_LOCK).unlink(missing_ok=True)
    return target


def _status_in_child(cache):
    import json
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RNNLAB_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_CHILD, "minrnn"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,  # before the fix, a stale lock made this wait forever
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.skipif(os.environ.get("RNNLAB_EXTENSION") == "0", reason="disabled by the user")
def test_a_killed_builds_lock_file_is_taken_over_at_once(tmp_path):
    """torch's `lock` file left by a build killed with kill -9 (no library yet)."""
    build = _copy_of_the_minrnn_build(tmp_path)
    (build / "rnnlab_minrnn.so").unlink()
    (build / "lock").write_text("")
    result, _ = _status_in_child(tmp_path)
    assert result == {"available": True, "built": True, "reason": None, "steps": 3}
    assert not (build / "lock").exists()


@pytest.mark.skipif(os.environ.get("RNNLAB_EXTENSION") == "0", reason="disabled by the user")
def test_a_truncated_library_is_rebuilt_automatically(tmp_path):
    """Before, loading it raised OSError on every call until the cache was deleted by hand."""
    build = _copy_of_the_minrnn_build(tmp_path)
    library = build / "rnnlab_minrnn.so"
    library.write_bytes(library.read_bytes()[:4096])
    result, _ = _status_in_child(tmp_path)
    assert result == {"available": True, "built": True, "reason": None, "steps": 3}
    assert library.stat().st_size > 4096


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


@pytest.mark.skipif(
    extension.ops("rnn") is None or extension.ops("gru") is None, reason="C++ kernels not built"
)
def test_the_block_cache_is_one_per_process_shared_by_the_families():
    """A block the rnn library freed is handed to the gru library's next call of that size
    (the cache is a GNU-unique symbol, so the libraries share one, as the docs say)."""
    from rnnlab.nn.kernels.gru_cpp import gru_family_sequence
    from rnnlab.nn.kernels.rnn_cpp import rnn_family_sequence

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        out = rnn_family_sequence(
            torch.randn(600, 8, 64, generator=gen), torch.zeros(8, 64), torch.eye(64) * 0.1
        )  # a (601, 8, 64) buffer
        address = out.untyped_storage().data_ptr()
        del out
        again = gru_family_sequence(
            torch.randn(600, 8, 192, generator=gen), torch.zeros(8, 64), torch.eye(192, 64)
        )
    assert again.untyped_storage().data_ptr() == address

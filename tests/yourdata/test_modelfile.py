"""Model directories: round trip, and clear refusals for every kind of bad file."""

import json

import pytest
import torch

from rnnlab.errors import UserInputError
from rnnlab.modelfile import (
    FORMAT_VERSION,
    ModelFileError,
    atomic_directory,
    load_into,
    read_model_dir,
    save_model_dir,
)


def _saved(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.GRU(3, 5)
    path = save_model_dir(tmp_path / "m", net.state_dict(), {"hidden": 5}, {"mae": 1.5})
    return net, path


def test_round_trip(tmp_path):
    net, path = _saved(tmp_path)
    config, state, metrics = read_model_dir(path)
    assert config["format_version"] == FORMAT_VERSION and config["hidden"] == 5
    assert metrics == {"mae": 1.5}
    clone = torch.nn.GRU(3, 5)
    load_into(clone, state, source=str(path))
    for name, tensor in net.state_dict().items():
        torch.testing.assert_close(clone.state_dict()[name], tensor, rtol=0, atol=0)


def test_tampered_weights_refused(tmp_path):
    _, path = _saved(tmp_path)
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="modified or truncated"):
        read_model_dir(path)


def test_truncated_weights_refused(tmp_path):
    _, path = _saved(tmp_path)
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(ModelFileError, match="modified or truncated"):
        read_model_dir(path)
    # Without a recorded digest the safetensors reader itself must refuse it.
    config = json.loads((path / "config.json").read_text())
    del config["weights"]["sha256"]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        read_model_dir(path)


def test_newer_format_refused(tmp_path):
    _, path = _saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = FORMAT_VERSION + 1
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=f"format version {FORMAT_VERSION + 1}.*upgrade"):
        read_model_dir(path)


def test_config_weights_mismatch_refused(tmp_path):
    _, path = _saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["weights"]["tensors"]["weight_ih_l0"]["shape"] = [15, 4]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"weight_ih_l0 has shape \[15, 3\], config says"):
        read_model_dir(path)
    _, state, _ = read_model_dir(_saved(tmp_path / "again")[1])
    with pytest.raises(ModelFileError, match="missing tensors"):
        load_into(torch.nn.LSTM(3, 5, num_layers=2), state, source="m")


def test_not_a_model_dir(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="not an rnnlab model directory"):
        read_model_dir(tmp_path / "empty")


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "partial.txt").write_text("x")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_replaces_own_output_but_not_user_files(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("1")
    with atomic_directory(target) as staging:
        (staging / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == [".rnnlab", "b.txt"]
    user = tmp_path / "precious"
    user.mkdir()
    (user / "thesis.tex").write_text("...")
    with (
        pytest.raises(UserInputError, match="not an rnnlab output directory"),
        atomic_directory(user),
    ):
        pass
    assert (user / "thesis.tex").read_text() == "..."


def test_directory_with_a_config_json_is_not_rnnlabs(tmp_path):
    """A user's folder holding a config.json of its own is refused whole, not replaced."""
    user = tmp_path / "paper"
    user.mkdir()
    (user / "config.json").write_text('{"mine": true}')
    (user / "thesis.tex").write_text("chapter 1")
    with pytest.raises(UserInputError, match=f"{user}.*not an rnnlab output directory"):
        save_model_dir(user, torch.nn.Linear(2, 2).state_dict(), {"hidden": 2})
    assert sorted(p.name for p in user.iterdir()) == ["config.json", "thesis.tex"]
    assert (user / "config.json").read_text() == '{"mine": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["paper"]


@pytest.mark.parametrize("marker", ["", "rnnlab", '{"written_by": "someone"}', "\xff\xfe"])
def test_marker_must_have_rnnlabs_format(tmp_path, marker):
    user = tmp_path / "out"
    user.mkdir()
    (user / ".rnnlab").write_text(marker, encoding="latin-1")
    (user / "notes.txt").write_text("keep")
    with (
        pytest.raises(UserInputError, match="not an rnnlab output directory"),
        atomic_directory(user),
    ):
        pass
    assert (user / "notes.txt").read_text() == "keep"


def test_empty_and_legacy_marked_directories_are_replaced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    save_model_dir(empty, torch.nn.Linear(2, 2).state_dict(), {"hidden": 2})
    assert json.loads((empty / ".rnnlab").read_text())["written_by"] == "rnnlab"
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / ".rnnlab").write_text("written by rnnlab\n")
    (legacy / "old.csv").write_text("x")
    save_model_dir(legacy, torch.nn.Linear(2, 2).state_dict(), {"hidden": 2})
    assert not (legacy / "old.csv").exists() and (legacy / "config.json").is_file()


def test_failed_second_rename_puts_the_old_output_back(tmp_path, monkeypatch):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("old")
    real_rename = type(target).rename

    def rename(self, dest):
        if str(self).startswith(str(tmp_path / ".out.")) and ".old." not in self.name:
            raise KeyboardInterrupt  # interrupted just before the new output moves in
        return real_rename(self, dest)

    monkeypatch.setattr(type(target), "rename", rename)
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as staging:
        (staging / "b.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (target / "a.txt").read_text() == "old"


_KILL_BETWEEN_RENAMES = """
import os, pathlib, signal, sys, torch
from rnnlab.modelfile import save_model_dir
target = pathlib.Path(sys.argv[1])
real_rename = pathlib.Path.rename
def rename(self, dest):
    if pathlib.Path(dest) == target:
        os.kill(os.getpid(), signal.SIGKILL)  # the old output is aside, the new not yet in
    return real_rename(self, dest)
pathlib.Path.rename = rename
save_model_dir(target, torch.nn.Linear(2, 2).state_dict(), {"hidden": 2, "run": 2})
"""


def test_kill_between_renames_restores_the_old_output_on_next_use(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "model"
    save_model_dir(target, torch.nn.Linear(2, 2).state_dict(), {"hidden": 2, "run": 1})
    done = subprocess.run(
        [sys.executable, "-c", _KILL_BETWEEN_RENAMES, str(target)], timeout=120, check=False
    )
    assert done.returncode == -9
    assert not target.exists()  # killed between the renames: the old one is aside
    config, _, _ = read_model_dir(target)  # loading puts it back
    assert config["run"] == 1 and target.is_dir()
    assert not list(tmp_path.glob(".model.old.*"))
    save_model_dir(target, torch.nn.Linear(2, 2).state_dict(), {"hidden": 2, "run": 3})
    assert read_model_dir(target)[0]["run"] == 3

"""Model directories: ``model.safetensors`` + ``config.json`` + ``metrics.json``.

A model directory is everything needed to rebuild and use a trained model, with nothing
that executes code on load: weights are read with :mod:`safetensors` (never pickle), the
config is JSON. ``config.json`` records the format version, the library versions, and the
SHA-256 digest and the name/shape/dtype of every tensor, so a tampered or truncated weights
file, a config edited so it no longer matches the weights, or a directory written by a
newer rnnlab are refused with a message that says which.

Writing is atomic: files go to a temporary sibling directory that is renamed into place at
the end, so an interrupted save never leaves a half-written model at the target path. Every
output directory gets a marker file (``.rnnlab``, a small JSON object); only a directory with
a valid marker, or an empty one, is ever replaced. Replacing renames the old directory aside
before the new one moves in; a process killed between the two renames leaves the old one
aside, and the next save to (or load from) that path puts it back first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from rnnlab.errors import UserInputError

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
MARKER_FILE = ".rnnlab"
_MARKER = {"written_by": "rnnlab", "marker_version": 1}
_LEGACY_MARKER = "written by rnnlab\n"  # what rnnlab 0.x wrote before the JSON marker


class ModelFileError(UserInputError):
    """A model directory that cannot be loaded safely (missing, corrupt, newer, mismatched)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_output_dir(target: str | os.PathLike[str]) -> Path:
    """Refuse ``target`` as an output directory unless rnnlab may replace it: it does not
    exist, is empty, or holds rnnlab's marker. Commands call this before any training or
    reading of data, so a mistyped ``--out`` fails at once, not after the work; the save
    (:func:`atomic_directory`) checks again. Puts back a directory an interrupted save left
    aside first (:func:`restore_interrupted`). Raises :class:`~rnnlab.errors.UserInputError`.
    """
    target = Path(target)
    restore_interrupted(target)
    if target.exists() and not _replaceable(target):
        raise UserInputError(
            f"--out {target}: exists and is not an rnnlab output directory (no valid "
            f"{MARKER_FILE} marker); nothing was changed in it: choose a new path or remove it"
        )
    return target


@contextmanager
def atomic_directory(target: str | os.PathLike[str]):
    """Yield a fresh temporary directory that replaces ``target`` only if the block succeeds.

    ``target`` may not exist, be empty, or be a directory rnnlab wrote (its marker file is
    valid): it is replaced. Any other existing path is refused with a
    :class:`~rnnlab.errors.UserInputError` before anything changes, so a mistyped ``--out``
    never deletes user files. On error the temporary directory is removed and ``target`` is
    left untouched.
    """
    target = check_output_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def atomic_file(target: str | os.PathLike[str]):
    """Yield a temporary path in ``target``'s folder, renamed onto ``target`` on success."""
    target = Path(target)
    if target.is_dir():
        raise UserInputError(f"--out {target}: is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent
    )
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def is_rnnlab_output(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory rnnlab wrote: its marker file holds rnnlab's marker."""
    marker = Path(path) / MARKER_FILE
    try:
        if not marker.is_file() or marker.stat().st_size > 4096:
            return False
        text = marker.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if text == _LEGACY_MARKER:
        return True
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("written_by") == _MARKER["written_by"]


def _replaceable(path: Path) -> bool:
    return path.is_dir() and (not any(path.iterdir()) or is_rnnlab_output(path))


def restore_interrupted(target: str | os.PathLike[str]) -> Path | None:
    """Put back an output directory that a save killed between its two renames left aside.

    Returns the restored path, or None when there was nothing to restore (``target`` exists,
    or no set-aside rnnlab directory is next to it).
    """
    target = Path(target)
    if target.exists() or not target.parent.is_dir():
        return None
    aside = [
        p for p in target.parent.glob(f".{target.name}.old.*") if p.is_dir() and is_rnnlab_output(p)
    ]
    if not aside:
        return None
    newest = max(aside, key=lambda p: p.stat().st_mtime)
    try:
        newest.rename(target)
    except OSError:  # another process restored it first
        return None
    return target


def _replace(staging: Path, target: Path) -> None:
    (staging / MARKER_FILE).write_text(json.dumps(_MARKER) + "\n")
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        old.rename(target)  # keep the user's previous output where it was
        raise
    shutil.rmtree(old, ignore_errors=True)


def _versions() -> dict[str, str]:
    from rnnlab import __version__

    return {"rnnlab": __version__, "torch": torch.__version__}


def write_model_dir(
    directory: str | os.PathLike[str],
    state_dict: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write weights, config and metrics into ``directory`` (a staging dir; see above).

    ``config`` must be JSON-serialisable; the format version, versions, tensor manifest and
    weights digest are added under reserved keys.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().cpu().contiguous() for name, t in state_dict.items()}
    weights = directory / WEIGHTS_FILE
    save_file(tensors, str(weights))
    full = {
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        **dict(config),
        "weights": {
            "sha256": _sha256(weights),
            "tensors": {
                name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
                for name, t in tensors.items()
            },
        },
    }
    (directory / CONFIG_FILE).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    (directory / METRICS_FILE).write_text(json.dumps(dict(metrics or {}), indent=2) + "\n")
    return directory


def save_model_dir(
    target: str | os.PathLike[str],
    state_dict: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Atomically write a model directory at ``target`` (see :func:`write_model_dir`)."""
    with atomic_directory(target) as staging:
        write_model_dir(staging, state_dict, config, metrics)
    return Path(target)


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``config.json`` (exists, JSON object, format version not newer)."""
    directory = Path(directory)
    restore_interrupted(directory)
    if not directory.is_dir():
        raise ModelFileError(f"model directory {directory} does not exist")
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise ModelFileError(f"{path}: missing; {directory} is not an rnnlab model directory")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(config, dict) or "format_version" not in config:
        raise ModelFileError(f"{path}: not an rnnlab model config (no format_version)")
    version = config["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written with model-file format version {version}, but this rnnlab "
            f"reads versions up to {FORMAT_VERSION}; upgrade rnnlab "
            f"(file written by rnnlab {config.get('versions', {}).get('rnnlab', '?')})"
        )
    return config


def read_model_dir(
    directory: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``(config, state_dict, metrics)`` from a model directory, verifying the weights.

    Raises:
        ModelFileError: missing files, a newer format version, a weights file whose digest
            differs from the one recorded (tampered or truncated), an unreadable weights
            file, or tensors that differ from the manifest in ``config.json``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    config = read_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{weights}: missing")
    manifest = config.get("weights", {})
    expected = manifest.get("sha256")
    if expected is not None and _sha256(weights) != expected:
        raise ModelFileError(
            f"{weights}: contents differ from the digest recorded in {CONFIG_FILE} "
            f"(the file was modified or truncated after saving); refusing to load it"
        )
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{weights}: not a readable safetensors file ({err})") from None
    check_manifest(state, manifest.get("tensors", {}), source=str(weights))
    metrics_path = directory / METRICS_FILE
    metrics: dict[str, Any] = {}
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
        except json.JSONDecodeError as err:
            raise ModelFileError(f"{metrics_path}: not valid JSON ({err})") from None
    return config, state, metrics


def check_manifest(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, Any], *, source: str
) -> None:
    """Raise :class:`ModelFileError` naming every tensor missing, extra or of another shape."""
    problems = []
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing:
        problems.append(f"missing tensors {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected tensors {', '.join(extra)}")
    for name in sorted(set(state) & set(expected)):
        want = expected[name]
        shape = list(want["shape"]) if isinstance(want, Mapping) else list(want)
        if list(state[name].shape) != shape:
            problems.append(f"{name} has shape {list(state[name].shape)}, config says {shape}")
    if problems:
        raise ModelFileError(f"{source}: weights do not match the config: " + "; ".join(problems))


def load_into(module: torch.nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load ``state`` into ``module`` (built from the config); mismatches raise clearly."""
    wanted = {name: list(t.shape) for name, t in module.state_dict().items()}
    check_manifest(state, wanted, source=f"{source} (model rebuilt from {CONFIG_FILE})")
    module.load_state_dict(dict(state))

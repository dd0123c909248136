"""Files ``tradai train`` logs beside the bundle for the report (``oos/`` on the version's run).

* ``tradai_metrics.json``: the out-of-sample metrics FreqAI's training model wrote;
* ``predictions.parquet``: :func:`tradai_strategy.reports.oos_table.prediction_table` of the
  strategy's first numeric target (``&-s_close``, or its own, e.g. ``&-fwd_logret``, with
  realised values from its ``set_freqai_targets``: :func:`strategy_realised`);
* ``feature_history.parquet``: every window's training features in feature units, with
  their dates and the window's model timestamp (``window``), one row per pair and candle
  (the first window keeps all its rows; later windows add the candles after it) — the
  drift heatmap compares each later day with the first window.

The pickles read here are FreqAI's output of this machine's own training run.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core.labels import RETURN_LABEL, is_discrete_label, target_columns
from tradai_strategy.core.settings import label_period_candles
from tradai_strategy.reports.oos_table import prediction_table

logger = logging.getLogger(__name__)

_WINDOW_RE = re.compile(r"^sub-train-(?P<coin>.+)_(?P<ts>\d+)$")


def base_candles(
    cfg: dict[str, Any], pairs: list[str], timerange: str | None
) -> dict[str, pd.DataFrame]:
    """The pairs' candles in the config's timeframe, from the run's data folder (up to the
    end of ``timerange``; spot or futures candles as ``trading_mode`` says).

    :raises TradAIDataError: a series the features need has no candles.
    """
    from tradai_strategy.data.features import load_candles

    tf = str(cfg["timeframe"])
    candles = load_candles(cfg, pairs, timerange)
    return {pair: candles[(pair, tf)] for pair in pairs}


def oos_label(predictions: pd.DataFrame) -> str:
    """The target the prediction table scores: the first numeric ``&``-column of the
    backtest predictions (a classifier's text label has no numeric prediction).

    :raises KeyError: no numeric target column.
    """
    labels = target_columns(predictions.columns)
    numeric = [c for c in labels if not is_discrete_label(predictions[c])]
    if not numeric:
        raise KeyError(
            f"no numeric &-target among the predictions ({', '.join(labels) or 'none'}): "
            "the prediction table needs a regression target"
        )
    return numeric[0]


def strategy_realised(
    cfg: dict[str, Any], label: str, pairs: list[str], timerange: str | None
) -> dict[str, pd.Series] | None:
    """The realised ``label`` per pair (UTC time index), computed by the strategy's own
    ``set_freqai_targets`` on the candles with its FreqAI features, as FreqAI built the
    training labels; None for TradAI's built-in ``&-s_close`` (the forward mean return).

    :raises ValueError: the strategy does not create ``label`` or it is not numeric.
    """
    from tradai_strategy.data.features import build_features, load_candles, load_strategy

    strategy = load_strategy(cfg)
    if label == RETURN_LABEL and not getattr(strategy, "custom_targets", True):
        return None
    candles = load_candles(cfg, pairs, timerange)
    out = {}
    for pair in pairs:
        frame = build_features(cfg, strategy, pair, candles).frame
        if label not in frame.columns:
            raise ValueError(
                f"the strategy's set_freqai_targets creates no {label} for {pair} "
                f"(found: {', '.join(target_columns(frame.columns)) or 'none'})"
            )
        values = pd.to_numeric(frame[label], errors="raise").to_numpy(dtype=float)
        index = pd.DatetimeIndex(pd.to_datetime(frame["date"], utc=True))
        series = pd.Series(values, index=index)
        out[pair] = series[~series.index.duplicated(keep="last")].sort_index()
    return out


def _unpickle(path: Path) -> Any:
    import cloudpickle

    with path.open("rb") as fh:
        return cloudpickle.load(fh)


def _window_features(folder: Path, coin: str, ts: int) -> pd.DataFrame | None:
    stem = folder / f"cb_{coin.lower()}_{ts}"
    paths = [Path(f"{stem}{s}") for s in ("_trained_df.pkl", "_trained_dates_df.pkl")]
    pipeline = Path(f"{stem}_feature_pipeline.pkl")
    if not all(p.is_file() for p in (*paths, pipeline)):
        return None
    x = pd.read_pickle(paths[0])
    try:
        raw, _, _ = _unpickle(pipeline).inverse_transform(x)
        x = pd.DataFrame(np.asarray(raw), columns=x.columns)
    except Exception:  # PCA & co. cannot be inverted column by column: keep model space
        x = x.reset_index(drop=True)
    dates = pd.to_datetime(pd.Series(np.asarray(pd.read_pickle(paths[1])).ravel()), utc=True)
    if len(dates) < len(x):
        return None
    x = x.astype(np.float32)
    # the training rows are the first ones of the window (unshuffled split: the eval rows
    # and the purge gap come after them)
    x.insert(0, "date", dates.to_numpy()[: len(x)])
    x.insert(1, "window", ts)
    return x


def feature_history(model_dir: Path, pairs: list[str]) -> pd.DataFrame:
    """Training features of every saved window (see the module docstring)."""
    frames = []
    for pair in pairs:
        coin = pair.split("/")[0]
        windows = sorted(
            (int(m["ts"]), f)
            for f in model_dir.glob(f"sub-train-{coin}_*")
            if (m := _WINDOW_RE.match(f.name)) and m["coin"] == coin and f.is_dir()
        )
        parts = [w for ts, f in windows if (w := _window_features(f, coin, ts)) is not None]
        if not parts:
            continue
        rows = pd.concat(parts, ignore_index=True).sort_values(["window", "date"], kind="stable")
        rows = rows.drop_duplicates("date", keep="first")
        rows.insert(1, "pair", pair)
        frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=["date", "pair", "window"])
    return pd.concat(frames, ignore_index=True)


def write_oos_artifacts(
    cfg: dict[str, Any], model_dir: Path, out_dir: Path, timerange: str | None
) -> Path:
    """Write the ``oos/`` files of a training run into ``out_dir`` and return it.

    A file whose source is missing (no regression label, no saved windows) is left out and
    logged; the report then shows that section as "no data".
    """
    from tradai_strategy.core.errors import TradAIDataError
    from tradai_strategy.data.oos_metrics import METRICS_FILE
    from tradai_strategy.data.prediction_files import load_backtest_predictions

    out_dir.mkdir(parents=True, exist_ok=True)
    if (model_dir / METRICS_FILE).is_file():
        shutil.copyfile(model_dir / METRICS_FILE, out_dir / METRICS_FILE)
    horizon = label_period_candles(cfg)
    try:
        predictions = load_backtest_predictions(model_dir)
        pairs = sorted(predictions["pair"].unique())
        label = oos_label(predictions)
        candles = base_candles(cfg, pairs, timerange)
        realised = strategy_realised(cfg, label, pairs, timerange)
        table = prediction_table(predictions, candles, horizon, label, realised)
        table.to_parquet(out_dir / "predictions.parquet", index=False)
    except (FileNotFoundError, KeyError, ValueError, TradAIDataError) as err:
        logger.warning("TradAI: no prediction table for the report: %s", err)
        pairs = list(cfg.get("exchange", {}).get("pair_whitelist") or [])
    history = feature_history(model_dir, pairs)
    if not history.empty:
        history.to_parquet(out_dir / "feature_history.parquet", index=False)
    return out_dir

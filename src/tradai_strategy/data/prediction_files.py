"""Read FreqAI's per-window backtest prediction files and score them out of sample.

A FreqAI backtest writes one feather file per pair and walk-forward window into
``<userdir>/models/<identifier>/backtesting_predictions/``, named
``cb_<coin>_<timestamp>_prediction.feather``: ``<coin>`` is the pair's base currency in
lower case (``btc`` for ``BTC/USDT``) and ``<timestamp>`` the model id (the end of the
window's training range, i.e. the start of its backtest window, in epoch seconds). The
quote currency is not in the name, nor anywhere in the window's ``*_metadata.json``, so
pairs are recovered from the whitelist FreqAI records in ``run_params.json`` (written at
the start of every run) or from an explicit ``pairs`` argument. Two whitelisted pairs with
the same base currency (``BTC/USDT`` and ``BTC/USDC``) share file names, so FreqAI itself
overwrites one with the other; that case is reported as an error.

:func:`load_backtest_predictions` turns the files of one model folder into one table, and
:func:`pooled_oos_ic` scores any FreqAI regressor's predictions the same way TradAI's
``tradai_metrics.json`` does (pooled, non-overlapping Spearman IC per pair), so FreqAI's own
models and TradAI's can be compared on equal terms.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.core.labels import RETURN_LABEL, forward_mean_return
from tradai_strategy.stats.ic import ICResult, non_overlapping_ic

logger = logging.getLogger(__name__)

__all__ = [
    "PREDICTIONS_FOLDER",
    "RUN_PARAMS_FILE",
    "load_backtest_predictions",
    "pooled_oos_ic",
    "prediction_file_pairs",
]

#: Sub-folder of a FreqAI model folder holding the backtest prediction files.
PREDICTIONS_FOLDER = "backtesting_predictions"
#: Run parameters FreqAI records in the model folder (``pairs`` is the whitelist).
RUN_PARAMS_FILE = "run_params.json"

_FILE_RE = re.compile(r"^cb_(?P<coin>.+)_(?P<ts>\d+)_prediction\.feather$")


def _whitelist(model_dir: Path) -> list[str]:
    path = model_dir / RUN_PARAMS_FILE
    if not path.is_file():
        raise TradAIDataError(
            f"{path} is missing: it names the pairs of the run; pass pairs=[...] explicitly"
        )
    pairs = json.loads(path.read_text()).get("pairs") or []
    return [str(p) for p in pairs]


def _coin_map(pairs: Sequence[str]) -> dict[str, str]:
    """Lower-case base currency -> pair, as FreqAI names its files (``cb_<coin>_...``)."""
    by_coin: dict[str, str] = {}
    for pair in pairs:
        coin = pair.split("/")[0].lower()
        if coin in by_coin and by_coin[coin] != pair:
            raise TradAIDataError(
                f"pairs {by_coin[coin]!r} and {pair!r} have the same base currency: FreqAI "
                "writes both to the same prediction files, so they cannot be told apart; "
                "backtest them under different identifiers"
            )
        by_coin[coin] = pair
    return by_coin


def prediction_file_pairs(
    model_dir: str | Path, pairs: Sequence[str] | None = None
) -> dict[Path, tuple[str, int]]:
    """Map each prediction file of ``model_dir`` to ``(pair, model timestamp)``.

    :param model_dir: a FreqAI model folder, ``<userdir>/models/<identifier>``.
    :param pairs: the pairs to load; default: the whitelist in ``run_params.json``. With
        an explicit list, files of other pairs are skipped; with the default, a file that
        matches no whitelisted pair is an error (a stale file from another run).
    :raises TradAIDataError: when the folder has no prediction files, or on an unknown or
        ambiguous file.
    """
    root = Path(model_dir)
    folder = root / PREDICTIONS_FOLDER
    files = sorted(folder.glob("*_prediction.feather")) if folder.is_dir() else []
    if not files:
        raise TradAIDataError(f"no FreqAI prediction files in {folder}")
    explicit = pairs is not None
    by_coin = _coin_map(list(pairs) if pairs is not None else _whitelist(root))
    out: dict[Path, tuple[str, int]] = {}
    for path in files:
        match = _FILE_RE.match(path.name)
        if match is None:
            raise TradAIDataError(f"{path}: not a FreqAI prediction file name (cb_<coin>_<ts>_...)")
        pair = by_coin.get(match["coin"])
        if pair is None:
            if explicit:
                continue
            raise TradAIDataError(
                f"{path.name}: coin {match['coin']!r} is in none of the run's pairs "
                f"({', '.join(by_coin.values())}); a file left by an earlier run under the "
                "same identifier? Pass pairs=[...] to select pairs"
            )
        out[path] = (pair, int(match["ts"]))
    return out


def _ordered_columns(columns: Sequence[str]) -> list[str]:
    labels = [c for c in columns if c.startswith("&")]
    skip = {"date", "pair", "do_predict", "DI_values", *labels}
    others = [c for c in columns if c not in skip and not c.startswith("%")]
    tail = [c for c in ("do_predict", "DI_values") if c in columns]
    return ["date", "pair", *labels, *others, *tail]


def load_backtest_predictions(
    model_dir: str | Path, pairs: Sequence[str] | None = None
) -> pd.DataFrame:
    """All backtest predictions of one FreqAI model folder as one table.

    Columns: ``date`` (UTC), ``pair``, every ``&``-column FreqAI wrote (predictions and
    their ``_mean``/``_std`` training statistics), any other prediction column (class
    probabilities of a classifier, extra returns), ``do_predict`` and ``DI_values`` when
    present; the strategy's ``%%`` columns are left out. Rows are sorted by pair and date
    with no duplicate ``(pair, date)``: if windows of an earlier run under the same
    identifier overlap, the row of the most recent model is kept (and a warning logged).

    :param model_dir: ``<userdir>/models/<identifier>``.
    :param pairs: see :func:`prediction_file_pairs`.
    """
    frames = []
    for path, (pair, ts) in prediction_file_pairs(model_dir, pairs).items():
        df = pd.read_feather(path)
        if "date" not in df.columns or "do_predict" not in df.columns:
            raise TradAIDataError(f"{path}: has no date/do_predict column (old FreqAI format?)")
        df.insert(1, "pair", pair)
        df["_model_ts"] = ts
        frames.append(df)
    if not frames:
        raise TradAIDataError(f"no prediction files of pairs {list(pairs or [])} in {model_dir}")
    table = pd.concat(frames, ignore_index=True)
    table["date"] = pd.to_datetime(table["date"], utc=True)
    table = table.sort_values(["pair", "date", "_model_ts"], kind="stable")
    dup = table.duplicated(["pair", "date"], keep="last")
    if dup.any():
        logger.warning(
            "%s: %d prediction rows are in more than one window file; kept the most recent "
            "model's (use a fresh identifier per run to avoid mixing runs)",
            model_dir,
            int(dup.sum()),
        )
        table = table.loc[~dup]
    columns = _ordered_columns([c for c in table.columns if c != "_model_ts"])
    return table[columns].reset_index(drop=True)


def close_series(candles: pd.DataFrame) -> pd.Series:
    """The close price indexed by UTC candle time (sorted; a repeated time keeps its last)."""
    dates = pd.to_datetime(candles["date"], utc=True)
    close = pd.Series(candles["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(dates))
    return close[~close.index.duplicated(keep="last")].sort_index()


def realised_returns(candles: pd.DataFrame, horizon: int) -> pd.Series:
    """The realised target of each candle: :func:`forward_mean_return` of its close over
    ``horizon`` candles (what ``&-s_close`` is trained on), indexed by UTC candle time."""
    return forward_mean_return(close_series(candles), horizon)


def pooled_oos_ic(
    predictions: pd.DataFrame,
    candles_by_pair: Mapping[str, pd.DataFrame],
    label: str = RETURN_LABEL,
    *,
    horizon: int,
) -> dict[str, ICResult]:
    """Pooled non-overlapping Spearman IC of ``label`` per pair, over all backtest windows.

    The realised target is :func:`~tradai_strategy.strategy.base.forward_mean_return` of
    the pair's candles (what ``&-s_close`` is trained on). Rows with ``do_predict != 1``
    count as missing predictions but keep their place in time, then every ``horizon``-th
    row of the pair's whole time-ordered out-of-sample series is kept, as in
    ``tradai_metrics.json``.

    :param predictions: a table from :func:`load_backtest_predictions`.
    :param candles_by_pair: OHLCV frames (``date``, ``close``) per pair, gap-free as
        freqtrade loads them, covering the predictions and ending where the backtest's
        data ends (later candles would give realised values to the last rows that the
        backtest itself could not label).
    :param label: numeric ``&``-column to score.
    :param horizon: forward horizon in candles (``label_period_candles``).
    :return: ``{pair: ICResult}`` for every pair in ``predictions``.
    :raises KeyError: when a pair has no candles or ``label`` is not in the table.
    """
    if label not in predictions.columns:
        raise KeyError(f"{label!r} is not a column of the predictions ({list(predictions)})")
    if not pd.api.types.is_numeric_dtype(predictions[label]):
        raise ValueError(f"{label!r} is not numeric: the IC needs a regression target")
    missing = sorted(set(predictions["pair"]) - set(candles_by_pair))
    if missing:
        raise KeyError(f"no candles for pair(s) {', '.join(missing)}")
    out: dict[str, ICResult] = {}
    for pair, rows in predictions.groupby("pair", sort=True):
        rows = rows.sort_values("date")
        usable = rows["do_predict"].to_numpy() == 1
        pred = np.where(usable, rows[label].to_numpy(dtype=float), np.nan)
        realised = realised_returns(candles_by_pair[str(pair)], horizon)
        dates = pd.DatetimeIndex(pd.to_datetime(rows["date"], utc=True))
        out[str(pair)] = non_overlapping_ic(pred, realised.reindex(dates).to_numpy(), horizon)
    return out

"""TradAI's settings: the run mode (:class:`TradingMode`) and the ``freqai.tradai`` block of a
FreqAI config (:class:`TradAISettings`; every key any part of TradAI reads is in
:data:`TRADAI_KEYS`, and :func:`tradai_block` refuses any other)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, cast

from freqtrade.exchange import timeframe_to_minutes

from tradai_strategy.core.errors import TradAIConfigError

#: ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE`` (ccxt's unified symbols)
PAIR_RE = re.compile(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$")


def not_a_pair(pair: str) -> str | None:
    """Why ``pair`` is not a ccxt symbol (``BTCUSDT``), else None."""
    if PAIR_RE.match(pair):
        return None
    return f"{pair!r} is not a pair: write BASE/QUOTE, e.g. BTC/USDT (BTC/USDT:USDT for futures)"


class TradingMode(StrEnum):
    """What one TradAI process does: ``train`` (walk-forward training -> registered version)
    or one of freqtrade's own run modes."""

    TRAIN = "train"
    BACKTEST = "backtest"
    HYPEROPT = "hyperopt"
    DRY_RUN = "dry-run"
    LIVE = "live"

    @classmethod
    def parse(cls, value: str | None) -> TradingMode:
        """``value`` (of ``TRADING_MODE``) as a mode (case-insensitive, ``dry_run`` =
        ``dry-run``); a :class:`TradAIConfigError` listing the valid values otherwise."""
        valid = ", ".join(m.value for m in cls)
        text = (value or "").strip().lower().replace("_", "-")
        if not text:
            raise TradAIConfigError(f"TRADING_MODE is not set: set it to one of {valid}")
        try:
            return cls(text)
        except ValueError:
            raise TradAIConfigError(
                f"TRADING_MODE={value!r} is not a trading mode: use one of {valid}"
            ) from None

    @property
    def default_config(self) -> str:
        """The config file used when none is given."""
        live = self in (TradingMode.DRY_RUN, TradingMode.LIVE)
        return "configs/inference.json" if live else "configs/train.json"


#: Every key of ``freqai.tradai`` and what reads it: a key not listed here is refused (a typo
#: such as ``estimater`` would otherwise be ignored and the default used silently).
TRADAI_KEYS: dict[str, str] = {
    # training (TradAISettings, the strategy's target)
    "estimator": "training: lightgbm, catboost or random_forest",
    "target": "strategy: return (regression), updown or regime (classifiers)",
    "purge_candles": "training: rows dropped before the eval part",
    "embargo_candles": "training: rows dropped after a non-final eval part",
    "early_stopping_rounds": "training: early stopping on the eval part (0 = off)",
    "eval_position": "training: end or start",
    "seed": "training: estimator seed",
    "regime": "target regime: class thresholds {lookback, ...} (core.regimes)",
    "executor": "training: {backend: serial|local|dask, workers, address} (parallel-training.md)",
    # data (the candle pre-flight, tradai_strategy.data.candle_check)
    "max_gap_candles": "pre-flight: longest candle gap accepted without --allow-gaps",
    # inference
    "mode": "informational: inference (written by tradai config build)",
    "prediction_source": "TradAIPredictionModel: {type: csv|mlflow, ...}",
    "model_uri": "TradAIMLflowModel: models:/<name>@<alias>",
    "tracking_uri": "TradAIMLflowModel: the MLflow server or store",
    "reload_check_seconds": "TradAIMLflowModel: seconds between alias checks",
    "registry_timeout_seconds": "TradAIMLflowModel: longest wait for the registry",
    "allow_in_sample": "TradAIMLflowModel: predict on candles the model trained on",
    # live monitoring (dry-run/live)
    "prediction_log": "live: write the prediction log (default true)",
    "prediction_log_path": "live: the prediction log file",
    "prediction_log_retention_days": "live: days of prediction log kept",
    "shadow_alias": "live: alias predicting beside the served one, logged only",
}


def tradai_block(config: dict[str, Any]) -> dict[str, Any]:
    """The ``freqai.tradai`` block of ``config`` (``{}`` when absent); a key not in
    :data:`TRADAI_KEYS` is a :class:`TradAIConfigError` naming the closest valid key."""
    block = (config.get("freqai") or {}).get("tradai") or {}
    if not isinstance(block, dict):
        raise TradAIConfigError(
            f"freqai.tradai must be an object of settings, got {type(block).__name__}: "
            'e.g. {"estimator": "lightgbm"}'
        )
    refuse_unknown_keys(block, TRADAI_KEYS, "freqai.tradai")
    return block


def refuse_unknown_keys(block: dict[str, Any], valid: Collection[str], where: str) -> None:
    """A :class:`TradAIConfigError` for the first key of ``block`` not in ``valid``, naming
    the closest valid key ("did you mean") and all of them."""
    for key in block:
        if key not in valid:
            close = difflib.get_close_matches(str(key), list(valid), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise TradAIConfigError(
                f"{where}.{key} is unknown: {hint}valid keys: {', '.join(valid)}"
            )


Estimator = Literal["lightgbm", "catboost", "random_forest"]
ESTIMATORS: tuple[Estimator, ...] = ("lightgbm", "catboost", "random_forest")


def label_period_candles(config: dict[str, Any]) -> int:
    """The label horizon in candles (``freqai.feature_parameters.label_period_candles``).

    The one place it is read: there is no default, a config without it is refused.
    """
    fp = (config.get("freqai") or {}).get("feature_parameters") or {}
    if "label_period_candles" not in fp:
        raise TradAIConfigError(
            "freqai.feature_parameters.label_period_candles is missing: set it to the "
            "forward horizon of your &-targets in candles (e.g. 12)"
        )
    h = fp["label_period_candles"]
    if not isinstance(h, int) or isinstance(h, bool) or h < 1:
        raise TradAIConfigError(
            f"freqai.feature_parameters.label_period_candles must be a positive integer, got {h!r}"
        )
    return h


@dataclass(frozen=True)
class TradAISettings:
    """Validated TradAI settings of one FreqAI config.

    ``purge_candles`` defaults to ``label_period_candles``: every training row whose forward
    label could reach into the eval part is dropped. ``embargo_candles`` drops rows right
    after an eval block that is not the last one (see ``eval_position``).
    """

    estimator: Estimator
    label_period_candles: int
    purge_candles: int
    embargo_candles: int
    early_stopping_rounds: int
    eval_position: Literal["end", "start"]
    seed: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TradAISettings:
        freqai = config.get("freqai", {})
        tr = tradai_block(config)
        h = label_period_candles(config)
        est = str(tr.get("estimator", "lightgbm")).lower()
        if est not in ESTIMATORS:
            raise TradAIConfigError(
                f"freqai.tradai.estimator {tr.get('estimator')!r} is unknown: use one of "
                f"{', '.join(ESTIMATORS)}"
            )
        pos = tr.get("eval_position", "end")
        if pos not in ("end", "start"):
            raise TradAIConfigError(
                f"freqai.tradai.eval_position must be 'end' or 'start', got {pos!r}"
            )
        ints = {}
        for key, default in (
            ("purge_candles", h),
            ("embargo_candles", 0),
            ("early_stopping_rounds", 0),
            ("seed", 42),
        ):
            val = tr.get(key, default)
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise TradAIConfigError(
                    f"freqai.tradai.{key} must be a non-negative integer, got {val!r}"
                )
            ints[key] = val
        if ints["purge_candles"] < h:
            raise TradAIConfigError(
                f"freqai.tradai.purge_candles={ints['purge_candles']} is shorter than "
                f"label_period_candles={h}: training labels would overlap the eval part; "
                f"set it to at least {h} or remove it"
            )
        if freqai.get("data_split_parameters", {}).get("shuffle"):
            raise TradAIConfigError(
                "freqai.data_split_parameters.shuffle=true mixes future rows into training: "
                "remove it (TradAI splits in time order)"
            )
        settings = cls(
            estimator=cast(Estimator, est),
            label_period_candles=h,
            eval_position=pos,
            **ints,
        )
        settings.check_window(config)
        return settings

    def check_window(self, config: dict[str, Any]) -> None:
        """Fail early when a training window cannot leave rows after eval part and purge."""
        freqai = config.get("freqai", {})
        days = freqai.get("train_period_days")
        tf = config.get("timeframe")
        if not days or not tf:
            return
        rows = int(float(days) * 24 * 60 / timeframe_to_minutes(tf))
        test_size = float(freqai.get("data_split_parameters", {}).get("test_size", 0.1))
        n_eval = int(test_size * rows) if test_size < 1 else int(test_size)
        left = rows - n_eval - self.purge_candles - self.label_period_candles
        if left < max(50, 2 * self.purge_candles):
            raise TradAIConfigError(
                f"freqai.train_period_days={days} gives {rows} {tf} candles per window; after an "
                f"eval part of {n_eval}, purge {self.purge_candles} and the "
                f"{self.label_period_candles} unlabelled last rows only {left} remain: "
                "raise train_period_days"
            )


#: the keys of ``freqai.tradai.executor``
EXECUTOR_KEYS = ("backend", "workers", "address")
Backend = Literal["serial", "local", "dask"]
BACKENDS: tuple[Backend, ...] = ("serial", "local", "dask")


@dataclass(frozen=True)
class ExecutorSettings:
    """Where a backtest's (pair, window) fits run (``freqai.tradai.executor``): ``serial``
    (FreqAI's own loop, the default), ``local`` (a process pool of ``workers``, default the
    usable cores) or ``dask`` (the scheduler at ``address``, or a local cluster of
    ``workers`` processes on 127.0.0.1 when there is none)."""

    backend: Backend = "serial"
    workers: int | None = None
    address: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ExecutorSettings:
        block = tradai_block(config).get("executor") or {}
        if not isinstance(block, dict):
            raise TradAIConfigError(
                f"freqai.tradai.executor must be an object, got {type(block).__name__}: "
                'e.g. {"backend": "local", "workers": 2}'
            )
        refuse_unknown_keys(block, EXECUTOR_KEYS, "freqai.tradai.executor")
        backend = str(block.get("backend", "serial")).lower()
        if backend not in BACKENDS:
            raise TradAIConfigError(
                f"freqai.tradai.executor.backend {block.get('backend')!r} is unknown: use one "
                f"of {', '.join(BACKENDS)}"
            )
        workers = block.get("workers")
        if workers is not None and (
            not isinstance(workers, int) or isinstance(workers, bool) or workers < 1
        ):
            raise TradAIConfigError(
                f"freqai.tradai.executor.workers must be a positive integer, got {workers!r}"
            )
        address = block.get("address")
        if address is not None and (backend != "dask" or not isinstance(address, str)):
            raise TradAIConfigError(
                f"freqai.tradai.executor.address {address!r} needs backend dask and a "
                "scheduler address such as tcp://10.0.0.5:8786"
            )
        return cls(cast(Backend, backend), workers, address or None)

"""FreqAIConfigBuilder: freqtrade/FreqAI configs for training and inference from one metadata.

``configs/train.json`` and ``configs/inference.json`` are this module's output for
:data:`DEFAULT_META` (a test keeps them in sync; regenerate with ``tradai config build``).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.labels import CLASSIFIER_TARGETS, TARGETS
from tradai_strategy.core.settings import ESTIMATORS, not_a_pair

#: Conservative per-estimator presets (small trees, strong regularisation: financial labels
#: are mostly noise). Each library refuses the other's parameter names.
ESTIMATOR_PARAMETERS: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 7,
        "min_child_samples": 200,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.5,
    },
    "catboost": {
        "iterations": 300,
        "learning_rate": 0.03,
        "depth": 4,
        "l2_leaf_reg": 10,
        "rsm": 0.5,
        "subsample": 0.8,
        "bootstrap_type": "Bernoulli",
    },
    "random_forest": {
        "n_estimators": 300,
        "max_depth": 8,
        "min_samples_leaf": 50,
        "max_features": 0.5,
    },
}


@dataclass
class StrategyMeta:
    """Everything that differs between TradAI deployments of a strategy."""

    pairs: list[str] = field(default_factory=lambda: ["BTC/USDT", "ETH/USDT"])
    strategy: str = "RadStrategy"
    timeframe: str = "1h"
    exchange: str = "binance"
    trading_mode: str = "spot"
    stake_currency: str = "USDT"
    stake_amount: float | str = 100
    max_open_trades: int = 4
    dry_run_wallet: float = 1000
    #: "": ``<strategy without "Strategy">-<lgbm|catboost>-v1`` (``rad-lgbm-v1``)
    identifier: str = ""
    include_timeframes: list[str] | None = None
    include_corr_pairlist: list[str] = field(default_factory=list)
    indicator_periods_candles: list[int] = field(default_factory=lambda: [10, 20])
    include_shifted_candles: int = 2
    label_period_candles: int = 12
    train_period_days: int = 60
    backtest_period_days: int = 15
    test_size: float = 0.15
    estimator: str = "lightgbm"
    #: None: the estimator's preset (:data:`ESTIMATOR_PARAMETERS`)
    model_training_parameters: dict[str, Any] | None = None
    #: the registered model name the inference config serves (None: ``tradai-<strategy>``,
    #: the name ``tradai train`` registers under)
    model_name: str | None = None
    early_stopping_rounds: int = 0
    embargo_candles: int = 0
    seed: int = 42
    target: str = "return"
    prediction_source: dict[str, Any] | None = None
    datadir: str | None = "user_data/data/binance"

    def __post_init__(self) -> None:
        if not self.identifier:
            short = {"lightgbm": "lgbm", "random_forest": "rf"}.get(self.estimator, self.estimator)
            stem = self.strategy.removesuffix("Strategy").lower() or self.strategy.lower()
            self.identifier = f"{stem}-{short}-v1"
        bad = [why for why in map(not_a_pair, self.pairs) if why]
        if bad:
            raise ValueError(bad[0])
        if self.model_training_parameters is None and self.estimator in ESTIMATOR_PARAMETERS:
            self.model_training_parameters = copy.deepcopy(ESTIMATOR_PARAMETERS[self.estimator])
        if not self.pairs:
            raise ValueError("StrategyMeta.pairs is empty: give at least one pair like BTC/USDT")
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"StrategyMeta.estimator {self.estimator!r} is unknown: use one of "
                f"{', '.join(ESTIMATORS)}"
            )
        if self.target not in TARGETS:
            raise ValueError(
                f"StrategyMeta.target {self.target!r} is unknown: use one of {', '.join(TARGETS)}"
            )
        if self.trading_mode not in ("spot", "futures"):
            raise ValueError(
                f"StrategyMeta.trading_mode {self.trading_mode!r}: use 'spot' or 'futures'"
            )


DEFAULT_META = StrategyMeta()


def meta_from_options(pairs: str, **fields: Any) -> StrategyMeta:
    """:class:`StrategyMeta` from command options (``pairs`` comma-separated); a bad value is
    a :class:`TradAIConfigError` naming the ``--option``."""
    try:
        return StrategyMeta(pairs=[p.strip() for p in pairs.split(",") if p.strip()], **fields)
    except ValueError as err:
        named = re.sub(r"StrategyMeta\.(\w+)", lambda m: "--" + m[1].replace("_", "-"), str(err))
        raise TradAIConfigError(named) from None


def _base(meta: StrategyMeta) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "$schema": "https://schema.freqtrade.io/schema.json",
        "strategy": meta.strategy,
        "trading_mode": meta.trading_mode,
        "margin_mode": "isolated" if meta.trading_mode == "futures" else "",
        "max_open_trades": meta.max_open_trades,
        "stake_currency": meta.stake_currency,
        "stake_amount": meta.stake_amount,
        "tradable_balance_ratio": 0.99,
        "fiat_display_currency": "USD",
        "dry_run": True,
        "dry_run_wallet": meta.dry_run_wallet,
        "timeframe": meta.timeframe,
        "cancel_open_orders_on_exit": False,
        "dataformat_ohlcv": "feather",
        "dataformat_trades": "feather",
        "unfilledtimeout": {"entry": 10, "exit": 10, "exit_timeout_count": 0, "unit": "minutes"},
        "entry_pricing": {
            "price_side": "same",
            "use_order_book": True,
            "order_book_top": 1,
            "price_last_balance": 0.0,
            "check_depth_of_market": {"enabled": False, "bids_to_ask_delta": 1},
        },
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exchange": {
            "name": meta.exchange,
            "key": "",
            "secret": "",
            "ccxt_config": {},
            "ccxt_async_config": {},
            "pair_whitelist": list(meta.pairs),
            "pair_blacklist": [],
        },
        "pairlists": [{"method": "StaticPairList"}],
        "bot_name": f"tradai-{meta.identifier}",
        "initial_state": "running",
        "internals": {"process_throttle_secs": 5},
    }
    if meta.datadir:
        cfg["datadir"] = meta.datadir
    if not cfg["margin_mode"]:
        del cfg["margin_mode"]
    return cfg


def _feature_parameters(meta: StrategyMeta) -> dict[str, Any]:
    return {
        "include_timeframes": list(meta.include_timeframes or [meta.timeframe]),
        "include_corr_pairlist": list(meta.include_corr_pairlist),
        "label_period_candles": meta.label_period_candles,
        "include_shifted_candles": meta.include_shifted_candles,
        "indicator_periods_candles": list(meta.indicator_periods_candles),
        "DI_threshold": 0,
        "weight_factor": 0,
        "principal_component_analysis": False,
        "use_SVM_to_remove_outliers": False,
        "plot_feature_importances": 0,
    }


def build_training_config(meta: StrategyMeta = DEFAULT_META) -> dict[str, Any]:
    """Walk-forward training config for ``TrainingPredictionModel``."""
    cfg = _base(meta)
    classifier = meta.target in CLASSIFIER_TARGETS
    cfg["freqaimodel"] = "TrainingClassifierModel" if classifier else "TrainingPredictionModel"
    cfg["freqai"] = {
        "enabled": True,
        "purge_old_models": 2,
        "train_period_days": meta.train_period_days,
        "backtest_period_days": meta.backtest_period_days,
        "live_retrain_hours": 0,
        "identifier": meta.identifier,
        "activate_tensorboard": False,
        "feature_parameters": _feature_parameters(meta),
        "data_split_parameters": {"test_size": meta.test_size, "shuffle": False},
        "model_training_parameters": copy.deepcopy(meta.model_training_parameters),
        # purge_candles is left to its runtime default (= label_period_candles): pinned
        # here, a config that changes the horizon would fail on a stale purge
        "tradai": {
            "estimator": meta.estimator,
            "target": meta.target,
            "embargo_candles": meta.embargo_candles,
            "early_stopping_rounds": meta.early_stopping_rounds,
            "seed": meta.seed,
        },
    }
    return cfg


def build_inference_config(meta: StrategyMeta = DEFAULT_META) -> dict[str, Any]:
    """Inference-only config: predictions come from ``prediction_source``; nothing trains."""
    cfg = _base(meta)
    source = meta.prediction_source or {
        "type": "mlflow",
        "model_uri": f"models:/{meta.model_name or f'tradai-{meta.strategy}'}@production",
    }
    cfg["freqaimodel"] = "TradAIPredictionModel"
    cfg["freqai"] = {
        "enabled": True,
        # nothing trains: freqtrade then loads only the strategy's startup candles before
        # the timerange, not a training window (see freqai/inference_base.py)
        "train_period_days": 0,
        "backtest_period_days": meta.backtest_period_days,
        "live_retrain_hours": 0,
        "continual_learning": False,
        "identifier": f"{meta.identifier}-inference",
        "activate_tensorboard": False,
        "feature_parameters": _feature_parameters(meta),
        "data_split_parameters": {"test_size": 0.0, "shuffle": False},
        "tradai": {"mode": "inference", "target": meta.target, "prediction_source": source},
    }
    return cfg


def write_configs(out_dir: Path, meta: StrategyMeta = DEFAULT_META) -> list[Path]:
    """Write ``train.json`` and ``inference.json`` to ``out_dir`` (a TradAIConfigError naming
    ``--out`` when it cannot be written)."""
    configs = (
        ("train.json", build_training_config(meta)),
        ("inference.json", build_inference_config(meta)),
    )
    written = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, cfg in configs:
            path = out_dir / name
            path.write_text(json.dumps(cfg, indent=4) + "\n")
            written.append(path)
    except OSError as err:  # the user's --out: a file in the way, no permission
        raise TradAIConfigError(f"--out {out_dir}: cannot write the configs ({err})") from err
    return written

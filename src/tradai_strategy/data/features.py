"""Build a strategy's FreqAI features and targets outside a backtest.

Validation, the lookahead guard and the inference models all need exactly the features
FreqAI would compute — same ``feature_engineering_*`` functions, included timeframes,
correlated pairs and shifted candles — without running a backtest. This module calls
FreqAI's own data kitchen on candles loaded from the data folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from freqtrade.resolvers import StrategyResolver
from freqtrade.strategy import IStrategy

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.data.candle_check import check_candles

Candles = dict[tuple[str, str], pd.DataFrame]


@dataclass(frozen=True)
class FeatureFrame:
    """One pair's candles with FreqAI features (``%``) and, optionally, targets (``&``)."""

    pair: str
    frame: pd.DataFrame

    @property
    def features(self) -> list[str]:
        # FreqAI's own rule (data_kitchen.find_features / find_labels): the marker anywhere
        return [c for c in self.frame.columns if "%" in c]

    @property
    def labels(self) -> list[str]:
        return [c for c in self.frame.columns if "&" in c]


def freqai_section(config: dict[str, Any]) -> dict[str, Any]:
    freqai = config.get("freqai") or {}
    if not freqai.get("enabled"):
        raise TradAIConfigError("freqai.enabled is not true in the config: TradAI needs FreqAI")
    if "feature_parameters" not in freqai:
        raise TradAIConfigError("freqai.feature_parameters is missing from the config")
    return freqai


def required_series(config: dict[str, Any], pairs: Iterable[str]) -> list[tuple[str, str]]:
    """(pair, timeframe) candle series the features of ``pairs`` need."""
    fp = freqai_section(config)["feature_parameters"]
    tfs = list(dict.fromkeys([config["timeframe"], *fp.get("include_timeframes", [])]))
    all_pairs = list(dict.fromkeys([*pairs, *fp.get("include_corr_pairlist", [])]))
    return [(p, tf) for p in all_pairs for tf in tfs]


def load_strategy(config: dict[str, Any]) -> IStrategy:
    """Load the config's strategy the way freqtrade does (``strategy``/``strategy_path``)."""
    return StrategyResolver.load_strategy(config)


def load_candles(
    config: dict[str, Any],
    pairs: Sequence[str],
    timerange: str | None = None,
    datadir: Path | None = None,
) -> Candles:
    """Load every candle series the features of ``pairs`` need; clear error when missing.

    The raw files go through the candle pre-flight first
    (:func:`~tradai_strategy.data.candle_check.check_candles`): duplicate timestamps,
    NaN/non-positive prices and (unless gaps are allowed) long gaps are refused instead of
    being repaired by freqtrade's loader.
    """
    ddir = Path(datadir or config["datadir"])
    tr = TimeRange.parse_timerange(timerange) if timerange else None
    candle_type = CandleType.FUTURES if config.get("trading_mode") == "futures" else CandleType.SPOT
    check_candles(
        config,
        required_series(config, pairs),
        datadir=ddir,
        candle_type=candle_type,
        start=tr.startdt if tr is not None and tr.startts else None,
        stop=tr.stopdt if tr is not None and tr.stopts else None,
    )
    out: Candles = {}
    missing = []
    for pair, tf in required_series(config, pairs):
        df = load_pair_history(
            pair=pair,
            timeframe=tf,
            datadir=ddir,
            timerange=tr,
            data_format=config.get("dataformat_ohlcv", "feather"),
            candle_type=candle_type,
        )
        if df.empty:
            missing.append(f"{pair} {tf}")
        out[(pair, tf)] = df
    if missing:
        raise TradAIDataError(
            f"no candles in {ddir} for {', '.join(missing)}"
            + (f" within {timerange}" if timerange else "")
            + ": run freqtrade download-data for them or fix --datadir/--timerange"
        )
    return out


def build_features(
    config: dict[str, Any],
    strategy: IStrategy,
    pair: str,
    candles: Candles,
    *,
    with_targets: bool = True,
) -> FeatureFrame:
    """Features (and targets) of ``pair`` exactly as FreqAI computes them in a backtest."""
    freqai = freqai_section(config)
    fp = freqai["feature_parameters"]
    tf = config["timeframe"]
    if getattr(strategy, "freqai_info", None) is None:
        # freqtrade sets this in ft_bot_start; strategies read it in feature_engineering_*
        strategy.freqai_info = freqai
    dk = FreqaiDataKitchen(config, live=True, pair=pair)
    dk.live = False  # targets are added below, on request
    base = {t: candles[(pair, t)] for t in fp.get("include_timeframes", [tf])}
    corr = {
        p: {t: candles[(p, t)] for t in fp.get("include_timeframes", [tf])}
        for p in fp.get("include_corr_pairlist", [])
    }
    frame = dk.use_strategy_to_populate_indicators(
        strategy,
        corr_dataframes=corr,
        base_dataframes=base,
        pair=pair,
        prediction_dataframe=candles[(pair, tf)],
    )
    if with_targets:
        frame = strategy.set_freqai_targets(frame.copy(), metadata={"pair": pair})
    frame = dk.remove_special_chars_from_feature_names(frame)
    return FeatureFrame(pair=pair, frame=frame.reset_index(drop=True))

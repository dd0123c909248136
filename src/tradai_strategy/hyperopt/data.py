"""Model inputs of ``tradai hyperopt``, prepared once and shared by every trial.

Features and targets are built the way ``tradai validate`` builds them
(:func:`~tradai_strategy.freqai.features.build_features` then
:func:`~tradai_strategy.validation.runner.prepare_pair`), split by a purged walk-forward CV.
When the search space tunes ``label_period_candles`` every candidate horizon is prepared here
once, so trials only fit. Everything is picklable: worker processes receive it as is.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tradai_strategy.config.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.config.settings import TradAISettings
from tradai_strategy.hyperopt.space import Space
from tradai_strategy.validation.runner import PairData, prepare_pair
from tradai_strategy.validation.splitters import PurgedWalkForwardCV

Split = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


@dataclass
class Prepared:
    """One label horizon's pairs and their walk-forward splits (same count for every pair)."""

    horizon: int
    pairs: list[PairData]
    splits: list[list[Split]]

    @property
    def n_splits(self) -> int:
        return len(self.splits[0])


@dataclass
class HyperoptData:
    """What every trial needs: the estimator, base parameters and prepared inputs."""

    estimator: str
    seed: int
    timeframe: str
    base_params: dict[str, Any]
    default_horizon: int
    by_horizon: dict[int, Prepared]

    def get(self, horizon: int | None) -> Prepared:
        return self.by_horizon[self.default_horizon if horizon is None else int(horizon)]


def _horizons(space: Space, default: int) -> list[int]:
    dim = space.get("label_period_candles")
    if dim is None:
        return [default]
    values = []
    for choice in dim.choices:
        if not isinstance(choice, int) or isinstance(choice, bool) or choice < 1:
            raise TradAIConfigError(
                f"search space label_period_candles: choice {choice!r} is not a positive "
                "integer number of candles"
            )
        values.append(choice)
    return sorted(set(values))


def prepare_data(
    config: dict[str, Any],
    space: Space,
    *,
    n_splits: int = 4,
    purge: int | None = None,
    embargo: int = 5,
    pairs: Sequence[str] | None = None,
    timerange: str | None = None,
    datadir: Path | None = None,
) -> HyperoptData:
    """Features, labels and purged walk-forward splits of every pair (and horizon).

    ``purge`` defaults to the label horizon and is never shorter than it.

    :raises TradAIConfigError: bad settings or space.
    :raises TradAIDataError: missing candles, too few rows for the splits.
    """
    from tradai_strategy.freqai.features import build_features, load_candles, load_strategy

    tradai = TradAISettings.from_config(config)
    chosen = list(pairs or config.get("exchange", {}).get("pair_whitelist", []))
    if not chosen:
        raise TradAIConfigError("no pairs: set exchange.pair_whitelist in the config")
    timerange = timerange or config.get("timerange")
    timeframe = str(config["timeframe"])
    candles = load_candles(config, chosen, timerange, datadir)
    by_horizon: dict[int, Prepared] = {}
    for horizon in _horizons(space, tradai.label_period_candles):
        cfg = copy.deepcopy(config)
        cfg["freqai"]["feature_parameters"]["label_period_candles"] = horizon
        strategy = load_strategy(cfg)
        strategy.freqai_info = cfg["freqai"]
        gap = max(purge or horizon, horizon)
        data: list[PairData] = []
        splits: list[list[Split]] = []
        for pair in chosen:
            frame = build_features(cfg, strategy, pair, candles).frame
            pd_ = prepare_pair(frame, pair, horizon, timeframe)
            cv = PurgedWalkForwardCV(
                n_splits, purge=gap, embargo=embargo, label_end=pd_.label_end(gap, timeframe)
            )
            try:
                splits.append(list(cv.split(pd_.X, pd_.y)))
            except ValueError as err:
                raise TradAIDataError(f"{pair} ({len(pd_.X)} rows): {err}") from None
            data.append(pd_)
        by_horizon[horizon] = Prepared(horizon, data, splits)
    return HyperoptData(
        estimator=tradai.estimator,
        seed=tradai.seed,
        timeframe=timeframe,
        base_params=dict(config["freqai"].get("model_training_parameters", {})),
        default_horizon=tradai.label_period_candles,
        by_horizon=by_horizon,
    )

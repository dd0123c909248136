"""Model inputs of ``tradai hyperopt``, prepared once and shared by every trial.

Features and targets are built the way ``tradai validate`` builds them
(:func:`~tradai_strategy.data.features.build_features` then
:func:`~tradai_strategy.validation.runner.prepare_pair`), split by a purged walk-forward CV
(oldest, cheapest split first) or by combinatorial purged CV (``C(N, k)`` splits, every one
training on ``N - k`` groups).
When the search space tunes ``label_period_candles`` every candidate horizon is prepared here
once, so trials only fit. Everything is picklable: worker processes receive it as is.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import TradAISettings
from tradai_strategy.hyperopt.space import Space
from tradai_strategy.stats.splitters import CombinatorialPurgedCV, PurgedWalkForwardCV
from tradai_strategy.validation.runner import PairData, prepare_pair

Split = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
CVKind = Literal["walkforward", "cpcv"]
CV_KINDS: tuple[str, ...] = ("walkforward", "cpcv")


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
    cv: str = "walkforward"

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
    cv: CVKind = "walkforward",
    n_groups: int = 6,
    k: int = 2,
) -> HyperoptData:
    """Features, labels and purged splits of every pair (and horizon).

    ``cv="walkforward"``: ``n_splits`` expanding-window splits; ``cv="cpcv"``: combinatorial
    purged CV over ``n_groups`` groups with ``k`` test groups (``train_period_days`` cannot
    be searched then: CPCV trains on both sides of the test groups). ``purge`` defaults to
    the label horizon and is never shorter than it.

    :raises TradAIConfigError: bad settings or space.
    :raises TradAIDataError: missing candles, too few rows for the splits.
    """
    from tradai_strategy.data.features import build_features, load_candles, load_strategy

    if cv not in CV_KINDS:
        raise TradAIConfigError(f"--cv {cv!r} is unknown: use walkforward or cpcv")
    if cv == "cpcv" and "train_period_days" in space:
        raise TradAIConfigError(
            "search space train_period_days needs --cv walkforward (CPCV trains on both sides "
            "of its test groups); remove it from the --space file or use walkforward"
        )
    try:
        _splitter(cv, n_splits, n_groups, k, max(purge or 0, 0), embargo)
    except ValueError as err:
        flags = "--n-groups/--k" if cv == "cpcv" else "--n-splits"
        raise TradAIConfigError(f"{flags}: {err}") from None
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
            check_tunable(pd_)
            ends = pd_.label_end(gap, timeframe)
            try:
                splits.append(
                    list(
                        _splitter(cv, n_splits, n_groups, k, gap, embargo, ends).split(pd_.X, pd_.y)
                    )
                )
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
        cv=cv,
    )


def check_tunable(data: PairData) -> None:
    """One line for a target the objective cannot score: more than two classes (a regime
    target) have no numeric score whose IC or Sharpe means anything."""
    classes = sorted({str(v) for v in data.y}) if data.task == "classification" else []
    if len(classes) > 2:
        raise TradAIConfigError(
            f"{data.pair}: the target {data.label} has {len(classes)} classes "
            f"({', '.join(classes)}); tradai hyperopt scores the IC or Sharpe of one numeric "
            "prediction, which a multi-class target does not have: compare settings with "
            "tradai validate (accuracy against persistence) instead"
        )


def _splitter(
    cv: str, n_splits: int, n_groups: int, k: int, purge: int, embargo: int, ends: Any = None
) -> PurgedWalkForwardCV | CombinatorialPurgedCV:
    if cv == "cpcv":
        return CombinatorialPurgedCV(n_groups, k, purge=purge, embargo=embargo, label_end=ends)
    return PurgedWalkForwardCV(n_splits, purge=purge, embargo=embargo, label_end=ends)

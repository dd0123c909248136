"""What TradAI's inference-only FreqAI models share: they train nothing.

freqtrade loads ``freqai.train_period_days`` of candles before the timerange for every FreqAI
backtest (and downloads them in dry-run/live) so that a model can train on them. An
inference-only model never does: with ``train_period_days: 0`` freqtrade loads only the
strategy's ``startup_candle_count`` warm-up, as in a backtest without FreqAI (the inference
benches: the csv backtest 0-9 % faster than with a 90-day window). FreqAI's data kitchen
refuses 0 when it splits the timerange into training windows; these models walk no window,
so their own view of the config gets 1 day there while the bot's config keeps the 0
(FreqAI's ``run_params.json`` of such a run therefore records ``train_period_days: 1``).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from freqtrade.enums import RunMode
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from freqtrade.freqai.freqai_interface import IFreqaiModel

from tradai_strategy.freqai.run_records import redact_run_records

logger = logging.getLogger(__name__)


def kitchen_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as an inference-only model hands it to FreqAI: ``train_period_days`` of 0
    (or unset) becomes 1 for the data kitchen's window split; other configs pass unchanged.

    >>> kitchen_config({"freqai": {"train_period_days": 0}})["freqai"]["train_period_days"]
    1
    >>> cfg = {"freqai": {"train_period_days": 30}}
    >>> kitchen_config(cfg) is cfg
    True
    """
    freqai = config.get("freqai", {})
    days = freqai.get("train_period_days") or 0
    if days:
        return config  # FreqAI checks it (an integer >= 1)
    return {**config, "freqai": {**freqai, "train_period_days": 1}}


class InferenceOnlyModel(IFreqaiModel):
    """A FreqAI model whose predictions come from elsewhere: ``train``/``fit`` do nothing."""

    def __init__(self, **kwargs: Any) -> None:
        config = kwargs["config"]
        days = config.get("freqai", {}).get("train_period_days") or 0
        if isinstance(days, int | float) and days > 0 and config.get("runmode") == RunMode.BACKTEST:
            logger.info(
                "TradAI: %s trains nothing; the %s days of candles freqtrade loaded before "
                "the timerange for training go unused: set freqai.train_period_days to 0 in "
                "an inference config to skip loading them",
                type(self).__name__,
                days,
            )
        super().__init__(config=kitchen_config(config))
        redact_run_records(config, self.full_path)  # a tracking_uri's password stays off disk

    def train(self, unfiltered_df: pd.DataFrame, pair: str, dk: FreqaiDataKitchen, **kwargs: Any):
        """Nothing to train. Leaves the data kitchen what the drawer expects."""
        dk.data_dictionary = {
            "train_features": pd.DataFrame(),
            "train_dates": pd.Series(dtype="datetime64[ns, UTC]"),
        }
        return None

    def fit(self, data_dictionary: dict[str, Any], dk: FreqaiDataKitchen, **kwargs: Any) -> Any:
        return None

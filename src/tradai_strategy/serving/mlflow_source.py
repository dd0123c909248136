"""``prediction_source: {type: mlflow}`` of TradAIPredictionModel: a registered bundle, loaded
once, predicting on the strategy's features (no hot reload: that is TradAIMLflowModel's job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.bundle.predict import (
    ServingSettings,
    guard_in_sample,
    prediction_rows,
    strategy_features,
)
from tradai_strategy.registry.client import bound_registry_calls
from tradai_strategy.serving.compat import check_classes, check_trained_for, strategy_classes
from tradai_strategy.serving.loader import RegistryBundleLoader


class MlflowPredictionSource:
    """Predictions of the bundle ``model_uri`` names, computed when asked for."""

    def __init__(self, config: dict[str, Any], source: dict[str, Any]) -> None:
        self.settings = ServingSettings.from_config(config)
        bound_registry_calls(self.settings.registry_timeout_seconds)
        models = Path(config["user_data_dir"]) / "models" / config["freqai"]["identifier"]
        loader = RegistryBundleLoader(
            source["model_uri"],
            models / "registry_cache",
            self.settings.tracking_uri,
            pairs=None,
        )
        version, sha = loader.resolve()  # fail before the backtest on a bad URI or bundle
        self.version = version
        self.bundle = loader.fetch(version, sha)
        self.what = loader.ref.versioned(version)
        check_trained_for(self.bundle.manifest, config, self.what)
        self._classes_checked = False  # against the strategy's target, on the first call
        timerange = config.get("timerange")
        self.start = TimeRange.parse_timerange(timerange).startdt if timerange else None

    def predictions(
        self, pair: str, dataframe: pd.DataFrame, dk: FreqaiDataKitchen, strategy: Any
    ) -> pd.DataFrame:
        """Rows for every candle of ``dataframe`` (features computed unless already there)."""
        if not self._classes_checked:
            check_classes(self.bundle.manifest, strategy_classes(strategy), self.what)
            self._classes_checked = True
        model = self.bundle.model(pair)
        has_features = any(str(c).startswith("%") for c in dataframe.columns)
        frame = dataframe if has_features else strategy_features(dk, strategy, dataframe, pair)
        model.check_features(list(frame.columns))
        rows = prediction_rows(model, frame, self.settings.with_di)
        start = self.start if not getattr(dk, "live", False) else None
        return guard_in_sample(rows, model, self.settings.allow_in_sample, start)

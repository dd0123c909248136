"""The model a replay serves, checked before the bot starts.

A live bot that cannot load its model degrades safely (``do_predict = 0``, an alert) and
keeps running; a replay of a model that cannot load would only show that, candle after
candle. So before the bot starts, in one line:

* the FreqAI model class must be found where freqtrade looks (``--freqaimodel-path``, the
  userdir's ``freqaimodels``, FreqAI's own models);
* a TradAI serving model (``freqai.tradai.model_uri``, or a prediction source of type
  ``mlflow``) must resolve, download and verify its version now, trained for this timeframe
  and label horizon, as a backtest would require it;
* a csv prediction source must be a readable, valid prediction table.

Models that train (TrainingPredictionModel, FreqAI's own) have nothing to load yet: their
"No model ready" candles are part of what the replay shows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIConfigError, TradAIError

__all__ = ["check_model"]


def _check_class(config: dict[str, Any]) -> None:
    from freqtrade.resolvers.freqaimodel_resolver import FreqaiModelResolver

    name = config.get("freqaimodel")
    if not name:
        raise TradAIConfigError(
            "no FreqAI model: give --freqaimodel (e.g. TradAIMLflowModel) or set "
            '"freqaimodel" in the config'
        )
    folders = FreqaiModelResolver.build_search_paths(config, FreqaiModelResolver.user_subdir)
    for folder in folders:
        if folder.is_dir():
            # reads only files that define `class <name>(`, as freqtrade's loader does
            found, _ = FreqaiModelResolver._search_object(folder, object_name=str(name))
            if found is not None:
                return
    raise TradAIConfigError(
        f"--freqaimodel {name} is not a FreqAI model class in any of "
        f"{', '.join(str(f) for f in folders)}: check the name, or give --freqaimodel-path"
    )


def _serving_uri(config: dict[str, Any]) -> bool:
    tradai = (config.get("freqai") or {}).get("tradai") or {}
    source = tradai.get("prediction_source") or {}
    return bool(tradai.get("model_uri") or source.get("type") == "mlflow")


def _check_registered(config: dict[str, Any]) -> None:
    from tradai_strategy.bundle.predict import ServingSettings
    from tradai_strategy.registry.store import missing_store
    from tradai_strategy.serving.compat import check_trained_for
    from tradai_strategy.serving.loader import RegistryBundleLoader

    serving = ServingSettings.from_config(config)
    db = missing_store(serving.tracking_uri)
    if db is not None:
        raise TradAIConfigError(
            f"no MLflow store at {db}: check freqai.tradai.tracking_uri (or MLFLOW_TRACKING_URI)"
        )
    with tempfile.TemporaryDirectory(prefix="tradai-replay-check-") as cache:
        loader = RegistryBundleLoader(serving.model_uri, Path(cache), serving.tracking_uri)
        version, sha = loader.resolve()
        bundle = loader.fetch(version, sha)
        check_trained_for(bundle.manifest, config, f"{serving.model_uri} (version {version})")


def _check_csv(config: dict[str, Any]) -> None:
    from tradai_strategy.serving.prediction_source import CsvPredictionSource, source_settings

    path = Path(source_settings(config)["path"]).expanduser()
    CsvPredictionSource(path, timeframe=config.get("timeframe")).load()


def check_model(config: dict[str, Any]) -> None:
    """One line (:class:`TradAIConfigError`) when the replay's model cannot load (module doc)."""
    _check_class(config)
    tradai = (config.get("freqai") or {}).get("tradai") or {}
    source = tradai.get("prediction_source") or {}
    try:
        if _serving_uri(config):
            _check_registered(config)
        elif source.get("type") == "csv":
            _check_csv(config)
    except TradAIError as err:
        raise TradAIConfigError(
            f"the model cannot load, so the bot would predict nothing: {err}"
        ) from None

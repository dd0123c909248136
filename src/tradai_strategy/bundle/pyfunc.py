"""The MLflow pyfunc face of a model bundle: a fixed module of the installed package.

A bundle is logged with ``loader_module="tradai_strategy.bundle.pyfunc"`` and the bundle
folder as the model's data, so no code and no pickle is stored with the model: MLflow's
``load_model`` imports this module from the installed tradai-strategy and calls
:func:`_load_pyfunc` on the bundle folder, which loads it verified
(:func:`~tradai_strategy.bundle.format.load_bundle`).

``mlflow.pyfunc.load_model("models:/Name@alias").predict(features, params={"pair": ...})``
returns the bundle's predictions (label columns and ``do_predict``) for the given pair's
features, computed exactly as :meth:`tradai_strategy.bundle.format.PairModel.predict` does.
MLflow reads the stored ``MLmodel`` before any TradAI code runs;
:func:`tradai_strategy.serving.pyfunc.load_pyfunc` first checks every file of the stored
model against the registry's tags. TradAI's own serving path does not go through pyfunc: it
downloads and verifies the bundle folder itself (:mod:`tradai_strategy.serving.loader`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

try:  # mlflow is a dependency, but keep this module importable for type checks without it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover
    PythonModel = object  # type: ignore[misc,assignment]

#: what ``MLmodel`` names as the pyfunc's loader module
LOADER_MODULE = "tradai_strategy.bundle.pyfunc"


def _predict(bundle: Any, model_input: Any, params: dict[str, Any] | None) -> pd.DataFrame:
    pair = (params or {}).get("pair") or bundle.pairs[0]
    model = bundle.model(str(pair))
    pred, do_predict, _ = model.predict(pd.DataFrame(model_input))
    pred["do_predict"] = do_predict
    return pred


class BundlePyfunc:
    """The loaded pyfunc: ``predict(features, params={"pair": "BTC/USDT"})`` -> labels +
    ``do_predict``."""

    def __init__(self, bundle: Any) -> None:
        self.bundle = bundle

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return _predict(self.bundle, model_input, params)


def _load_pyfunc(data_path: str, model_config: Any = None) -> BundlePyfunc:
    """MLflow's loader-module entry point: the bundle folder stored as the model's data."""
    from tradai_strategy.bundle.format import load_bundle

    return BundlePyfunc(load_bundle(data_path))


class BundlePyfuncModel(PythonModel):
    """Kept for versions registered as a "model from code" (before :data:`LOADER_MODULE`):
    their stored code imports this class. New versions store no code."""

    def load_context(self, context: Any) -> None:
        from tradai_strategy.bundle.format import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return _predict(self.bundle, model_input, params)

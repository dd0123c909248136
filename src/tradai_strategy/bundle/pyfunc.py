"""The MLflow pyfunc face of a model bundle (logged as "model from code": nothing pickled).

``mlflow.pyfunc.load_model("models:/Name@alias").predict(features, params={"pair": ...})``
returns the bundle's predictions (label columns and ``do_predict``) for the given pair's
features, computed exactly as :meth:`tradai_strategy.bundle.format.PairModel.predict` does.
TradAI's own serving path does not go through pyfunc: it downloads and verifies the bundle
folder itself (:mod:`tradai_strategy.serving.loader`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

try:  # mlflow is a dependency, but keep this module importable for type checks without it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover
    PythonModel = object  # type: ignore[misc,assignment]

#: Code MLflow stores with the model and runs to build it (models from code).
MODEL_CODE = """\
from mlflow.models import set_model

from tradai_strategy.bundle.pyfunc import BundlePyfuncModel

set_model(BundlePyfuncModel())
"""


class BundlePyfuncModel(PythonModel):
    """``predict(features, params={"pair": "BTC/USDT"})`` -> labels + ``do_predict``."""

    def load_context(self, context: Any) -> None:
        from tradai_strategy.bundle.format import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        pair = (params or {}).get("pair") or self.bundle.pairs[0]
        model = self.bundle.model(str(pair))
        pred, do_predict, _ = model.predict(pd.DataFrame(model_input))
        pred["do_predict"] = do_predict
        return pred

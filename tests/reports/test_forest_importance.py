"""Feature importance of a random-forest bundle (before: the report said "unknown estimator
kind" and showed none): the skops model's impurity importances, equal to those of FreqAI's
own pickled estimator, as shares that sum to one per pair."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pytest
from regime_serving_helpers import PAIRS, registered_regime_model

from tradai_strategy.reports.importance import bundle_importance, mean_shares

pytestmark = pytest.mark.e2e


def test_random_forest_importance_is_the_forests_own(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run = registered_regime_model(tmp_path_factory, "random_forest")
    table = bundle_importance(run["bundle"])
    assert set(table["pair"]) == set(PAIRS)
    for pair, rows in table.groupby("pair"):
        assert rows["share"].sum() == pytest.approx(1.0)
        coin = str(pair).split("/")[0]
        window = max(
            run["model_dir"].glob(f"sub-train-{coin}_*"), key=lambda p: int(p.name.split("_")[-1])
        )
        (pickled,) = window.glob("*_model.joblib")
        with pickled.open("rb") as fh:  # FreqAI's own file of this test's training run
            forest = cloudpickle.load(fh)
        order = list(forest.feature_names_in_)
        got = rows.set_index("feature").loc[order, "importance"].to_numpy()
        np.testing.assert_allclose(got, forest.feature_importances_, rtol=0, atol=1e-12)
    shares = mean_shares(table)
    print(f"\ntop features: {shares.head(5).round(3).to_dict()}")

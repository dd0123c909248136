"""The best trial as a config fragment the training flow can use.

The fragment holds only the ``freqai`` keys the search tuned (estimator parameters merged
over the config's own ``model_training_parameters``, and ``train_period_days`` /
``feature_parameters.label_period_candles`` when searched). Pass it as a second ``--config``
after the training config: freqtrade merges later files over earlier ones. ``.toml`` output
holds the same tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.hyperopt.space import split_params


def best_fragment(best_params: dict[str, Any], base_params: dict[str, Any]) -> dict[str, Any]:
    """``{"freqai": {...}}`` with the best trial's values."""
    model, window = split_params(best_params)
    freqai: dict[str, Any] = {"model_training_parameters": {**base_params, **model}}
    if "train_period_days" in window:
        freqai["train_period_days"] = int(window["train_period_days"])
    if "label_period_candles" in window:
        freqai["feature_parameters"] = {"label_period_candles": int(window["label_period_candles"])}
    return {"freqai": freqai}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Minimal TOML for nested tables of scalars (what :func:`best_fragment` returns)."""
    scalars = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    lines = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    out = "\n".join(lines) + ("\n\n" if lines else "")
    for k, v in data.items():
        if isinstance(v, dict):
            out += to_toml(v, f"{prefix}.{k}" if prefix else k)
    return out


def write_best(path: Path, fragment: dict[str, Any]) -> Path:
    """Write the fragment as JSON (or TOML for a ``.toml`` path)."""
    if path.suffix not in (".json", ".toml"):
        raise TradAIConfigError(f"--out {path}: use a .json or .toml file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_toml(fragment) if path.suffix == ".toml" else json.dumps(fragment, indent=2) + "\n"
    path.write_text(text)
    return path

"""Search spaces of ``tradai hyperopt``: conservative defaults per estimator, overridable
from a TOML or JSON file.

A space maps a parameter name to a :class:`Dimension`. Two names are not estimator
parameters but window hooks read by the objective: ``train_period_days`` (how many days of
the most recent training rows each split keeps) and ``label_period_candles`` (the label
horizon; a ``categorical`` list of candle counts, each prepared once up front).

Override file (TOML shown; JSON with the same shape works too)::

    replace = false            # true: start from an empty space instead of the defaults
    [params.n_estimators]
    type = "int"
    low = 100
    high = 300
    [params.train_period_days]
    type = "int"
    low = 30
    high = 90
    [params.max_depth]
    remove = true              # drop a default dimension
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tradai_strategy.core.errors import TradAIConfigError

Kind = Literal["int", "float", "categorical"]
#: space entries that tune the data window rather than the estimator
WINDOW_HOOKS = ("train_period_days", "label_period_candles")


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: an int/float range (optionally log-scaled) or a choice list."""

    kind: Kind
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def check(self, name: str) -> None:
        """Raise :class:`TradAIConfigError` naming ``name`` when the dimension is unusable."""
        if self.kind == "categorical":
            if not self.choices:
                raise TradAIConfigError(f"search space {name}: choices is empty; list >= 1 value")
            return
        if self.kind not in ("int", "float"):
            raise TradAIConfigError(
                f"search space {name}: type {self.kind!r} is unknown; use int, float or categorical"
            )
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise TradAIConfigError(
                f"search space {name}: low={self.low} high={self.high}; need low <= high"
            )
        if self.log and self.low <= 0:
            raise TradAIConfigError(f"search space {name}: log scale needs low > 0, got {self.low}")

    def suggest(self, trial: Any, name: str) -> Any:
        """The trial's value for this dimension (optuna ``suggest_*``)."""
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        return trial.suggest_categorical(name, list(self.choices))


Space = dict[str, Dimension]

DEFAULT_SPACES: dict[str, Space] = {
    "lightgbm": {
        "n_estimators": Dimension("int", 100, 1000),
        "learning_rate": Dimension("float", 0.01, 0.3, log=True),
        "max_depth": Dimension("int", 3, 10),
        "min_child_samples": Dimension("int", 5, 100),
    },
    "catboost": {
        "iterations": Dimension("int", 100, 1000),
        "learning_rate": Dimension("float", 0.01, 0.3, log=True),
        "depth": Dimension("int", 3, 10),
        "l2_leaf_reg": Dimension("float", 1.0, 10.0, log=True),
    },
    "random_forest": {
        "n_estimators": Dimension("int", 100, 500),
        "max_depth": Dimension("int", 3, 12),
        "min_samples_leaf": Dimension("int", 10, 200, log=True),
        "max_features": Dimension("float", 0.2, 1.0),
    },
}


def default_space(estimator: str) -> Space:
    """A copy of the default space of ``estimator`` (lightgbm, catboost or random_forest)."""
    if estimator not in DEFAULT_SPACES:
        raise TradAIConfigError(
            f"freqai.tradai.estimator {estimator!r} has no search space: use lightgbm, catboost "
            "or random_forest"
        )
    return dict(DEFAULT_SPACES[estimator])


def _dimension(name: str, spec: Any) -> Dimension:
    if not isinstance(spec, dict):
        raise TradAIConfigError(
            f"search space {name}: expected a table like {{type = 'int', low = 1, high = 9}}, "
            f"got {spec!r}"
        )
    kind = str(spec.get("type", "categorical" if "choices" in spec else ""))
    try:
        dim = Dimension(
            kind=kind,  # type: ignore[arg-type]  # checked in Dimension.check
            low=float(spec.get("low", 0.0)),
            high=float(spec.get("high", 0.0)),
            log=bool(spec.get("log", False)),
            choices=tuple(spec.get("choices", ())),
        )
    except (TypeError, ValueError):
        raise TradAIConfigError(f"search space {name}: low/high must be numbers") from None
    dim.check(name)
    return dim


def read_space_file(path: Path) -> dict[str, Any]:
    """The raw override table of a ``.toml`` or ``.json`` file."""
    if not path.is_file():
        raise TradAIConfigError(f"--space {path} does not exist: pass a TOML or JSON file")
    text = path.read_text()
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise TradAIConfigError(f"--space {path} is not valid {path.suffix[1:]}: {err}") from None
    if not isinstance(data, dict):
        raise TradAIConfigError(f"--space {path}: the top level must be a table/object")
    return data


def apply_overrides(space: Space, overrides: dict[str, Any]) -> Space:
    """``space`` with the override table applied (see the module docstring)."""
    out: Space = {} if overrides.get("replace") else dict(space)
    params = overrides.get("params", {})
    if not isinstance(params, dict):
        raise TradAIConfigError("search space: 'params' must be a table of parameter tables")
    for name, spec in params.items():
        if isinstance(spec, dict) and spec.get("remove"):
            out.pop(name, None)
            continue
        out[name] = _dimension(name, spec)
    lpc = out.get("label_period_candles")
    if lpc is not None and lpc.kind != "categorical":
        raise TradAIConfigError(
            "search space label_period_candles: use type = 'categorical' with a choices list "
            "(each horizon's labels are built once up front)"
        )
    return out


def resolve_space(estimator: str, path: Path | None = None) -> Space:
    """The search space: the estimator's defaults, with the file's overrides when given.

    :raises TradAIConfigError: unknown estimator, bad file or an empty space.
    """
    space = default_space(estimator)
    if path is not None:
        space = apply_overrides(space, read_space_file(path))
    check_space(space)
    return space


def check_space(space: Space) -> None:
    """Raise when the space has no dimension to search."""
    if not space:
        raise TradAIConfigError(
            "search space is empty: keep at least one parameter (drop replace = true or add "
            "a [params.NAME] table to the --space file)"
        )
    for name, dim in space.items():
        dim.check(name)


def split_params(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a trial's values into (estimator parameters, window hooks)."""
    model = {k: v for k, v in values.items() if k not in WINDOW_HOOKS}
    window = {k: v for k, v in values.items() if k in WINDOW_HOOKS}
    return model, window

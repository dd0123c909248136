"""The retraining policy: ``configs/lifecycle.toml`` read into a validated :class:`RetrainPolicy`.

The TOML file has one table per concern (``[model]``, ``[retrain]``, ``[drift]``, ``[ic]``,
``[accuracy]``, ``[retention]``, ``[alerts]``, ``[train]``, ``[validation]``, ``[scheduler]``);
each key is the name of a
:class:`RetrainPolicy` field. Missing keys take the defaults below, unknown tables or keys are
errors, and every wrong value is a :class:`PolicyError` with one line naming the file, the
key and the fix. Relative paths in the file are relative to the working directory.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.lifecycle.policy_keys import SECTIONS

if TYPE_CHECKING:
    import pandas as pd

    from tradai_strategy.stats.decay import ICDecision

DEFAULT_POLICY = Path("configs/lifecycle.toml")
INTERVALS = ("weekly", "monthly", "month-end", "none")


class PolicyError(TradAIConfigError):
    """The policy file is missing, is not TOML, or holds a wrong key or value."""


@dataclass(frozen=True)
class RetrainPolicy:
    """When to retrain, promote, roll back and retire one registered model.

    Field names equal the TOML keys; :data:`~.policy_keys.SECTIONS` says which table holds each.
    """

    # [model]
    model_name: str = "tradai-RadStrategy"
    tracking_uri: str | None = None  # None: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db
    prediction_log: str | None = None  # None: <userdir>/tradai_predictions.sqlite
    # [retrain]
    interval: str = "weekly"
    retrain_on_drift: bool = True
    retrain_on_ic: bool = True
    retrain_on_accuracy: bool = True
    auto_promote: bool = False
    shadow_test_days: int = 7
    rollback_enabled: bool = True
    cooldown_hours: float = 168.0
    # [drift]
    feature_drift: bool = True
    ks_warn: float = 0.1
    ks_retrain: float = 0.2
    drift_min_share: float = 0.5
    drift_ratio: float = 1.5
    drift_window_days: int = 20
    error_window_days: int = 7
    # [ic]
    ic_retrain_below: float = 0.02
    ic_retrain_days: int = 10
    ic_retire_below: float = 0.0
    ic_retire_days: int = 30
    ic_window_days: int = 30
    ic_confidence: float = 0.99
    # [accuracy] (a classifier of more than two classes, e.g. the regimes: live accuracy)
    accuracy_warn_below: float = 0.85
    accuracy_retrain_below: float = 0.75
    accuracy_window_days: int = 30
    accuracy_days: int = 5
    accuracy_confidence: float = 0.99
    # [retention]
    keep_versions: int = 5
    prediction_log_days: int = 60  # >= ic_window_days + ic_retire_days - 1 (see load_policy)
    # [alerts]
    alert_urls: tuple[str, ...] = ()
    training_slow_hours: float = 2.0
    alert_repeat_hours: float = 24.0
    stale_warn_days: int = 30  # production older than this: warning alert
    stale_model_days: int = 45  # ... older than this: critical alert
    # [train]
    train_config: tuple[str, ...] = ("configs/train.json",)
    strategy: str = "RadStrategy"
    strategy_path: str | None = None
    datadir: str | None = None
    userdir: str = "user_data"
    train_days: int = 120
    offline: bool = False
    skip_leakage_check: bool = False
    # [validation] (the gate a retrained version must pass; `tradai validate` options)
    validation_cv: str = "cpcv"
    validation_n_groups: int = 6
    validation_seeds: int = 10
    validation_jobs: int = 0  # 0: one worker per core
    min_accuracy: float = 0.75  # more than two classes: the accuracy gate's floor ...
    accuracy_margin: float = 0.02  # ... and the margin over persistence
    # [scheduler]
    cron: str = "0 * * * *"
    lock_file: str | None = None  # None: tradai_scheduler.lock beside the policy file
    source: str = field(default="(defaults)", compare=False)

    def watch_ic(
        self,
        candles: pd.DataFrame,
        horizon: int,
        reference: tuple[float, float] | None = None,
    ) -> tuple[pd.DataFrame, ICDecision] | None:
        """The daily table of ``ic_window_days`` window ICs this policy watches over the
        per-candle cross-sectional IC ``candles`` (columns ic, pairs) at label ``horizon``,
        and its [ic] triggers judged at ``ic_confidence``: retrain against ``reference``
        (the version's validated IC and its s.e.; None: the line ``ic_retrain_below``),
        retire against ``ic_retire_below``. None while no window has enough days."""
        from tradai_strategy.stats.decay import confident_triggers
        from tradai_strategy.stats.live_ic import rolling_window_ic

        table = rolling_window_ic(candles, horizon, self.ic_window_days)
        if table["ic"].dropna().empty:
            return None
        ref, ref_se = reference if reference is not None else (self.ic_retrain_below, 0.0)
        return table, confident_triggers(
            table,
            confidence=self.ic_confidence,
            reference=ref,
            reference_se=ref_se,
            retrain_days=self.ic_retrain_days,
            retire_below=self.ic_retire_below,
            retire_days=self.ic_retire_days,
        )


_TYPES = {f.name: str(f.type) for f in fields(RetrainPolicy)}
_DEFAULTS = {f.name: f.default for f in fields(RetrainPolicy)}


def _typed(where: str, key: str, value: Any) -> Any:
    """``value`` converted to the field's type, or a PolicyError saying what to write."""
    kind = _TYPES[key]
    default = _DEFAULTS[key]
    if kind == "bool":
        if not isinstance(value, bool):
            raise PolicyError(f"{where} {key} = {value!r} is not a boolean: write true or false")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyError(f"{where} {key} = {value!r} is not an integer: e.g. {default}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(f"{where} {key} = {value!r} is not a number: e.g. {default}")
        return float(value)
    if kind.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(
                f'{where} {key} = {value!r} is not a list of strings: e.g. {key} = ["..."]'
            )
        return tuple(value)
    if not isinstance(value, str):
        raise PolicyError(f'{where} {key} = {value!r} is not a string: e.g. {key} = "{default}"')
    if "None" in kind:
        return value.strip() or None
    if not value.strip():
        raise PolicyError(f'{where} {key} is empty: e.g. {key} = "{default}"')
    return value.strip()


def _check_ranges(p: RetrainPolicy, src: str) -> None:
    """Cross-field and range checks, one line each."""

    def bad(section: str, key: str, why: str) -> PolicyError:
        return PolicyError(f"{src} [{section}] {key} = {getattr(p, key)!r} {why}")

    if p.validation_cv not in ("cpcv", "walkforward"):
        raise bad("validation", "validation_cv", "is unknown: use cpcv or walkforward")
    if p.validation_n_groups < 2 or p.validation_seeds < 1 or p.validation_jobs < 0:
        raise PolicyError(
            f"{src} [validation] needs validation_n_groups >= 2, validation_seeds >= 1 and "
            f"validation_jobs >= 0 (got {p.validation_n_groups}, {p.validation_seeds}, "
            f"{p.validation_jobs})"
        )
    for key in ("min_accuracy", "accuracy_margin"):
        if not 0 <= getattr(p, key) < 1:
            raise bad("validation", key, "is outside [0, 1): a share of rows, e.g. 0.75 / 0.02")
    for key in ("accuracy_warn_below", "accuracy_retrain_below"):
        if not 0 < getattr(p, key) <= 1:
            raise bad("accuracy", key, "is outside (0, 1]: an accuracy, e.g. 0.85 / 0.75")
    if p.accuracy_retrain_below > p.accuracy_warn_below:
        raise bad(
            "accuracy",
            "accuracy_retrain_below",
            f"is above accuracy_warn_below = {p.accuracy_warn_below}: the retrain line is "
            "the lower one, e.g. 0.75 under 0.85",
        )
    if not 0.5 <= p.accuracy_confidence < 1:
        raise bad("accuracy", "accuracy_confidence", "is outside [0.5, 1): a one-sided confidence")
    if p.stale_warn_days > p.stale_model_days:
        raise bad(
            "alerts",
            "stale_warn_days",
            f"is above stale_model_days = {p.stale_model_days}: the warning comes first, "
            "e.g. 30 and 45",
        )
    if p.interval not in INTERVALS:
        raise bad("retrain", "interval", f"is unknown: use one of {', '.join(INTERVALS)}")
    for key in ("ks_warn", "ks_retrain"):
        if not 0 < getattr(p, key) <= 1:
            raise bad("drift", key, "is outside (0, 1]: a KS statistic lies in [0, 1], e.g. 0.1")
    if p.ks_retrain <= p.ks_warn:
        raise bad("drift", "ks_retrain", f"is not above ks_warn = {p.ks_warn}: e.g. 0.2")
    if not 0 < p.drift_min_share <= 1:
        raise bad("drift", "drift_min_share", "is outside (0, 1]: the share of features, e.g. 0.5")
    if p.drift_ratio <= 1:
        raise bad("drift", "drift_ratio", "is not above 1: recent MAE / baseline MAE, e.g. 1.5")
    if not -1 <= p.ic_retrain_below <= 1:
        raise bad("ic", "ic_retrain_below", "is outside [-1, 1]: an IC is a correlation")
    if not 0.5 <= p.ic_confidence < 1:
        raise bad("ic", "ic_confidence", "is outside [0.5, 1): a one-sided confidence, e.g. 0.99")
    if p.ic_retire_below > p.ic_retrain_below:
        raise bad("ic", "ic_retire_below", f"is above ic_retrain_below = {p.ic_retrain_below}")
    positive = {
        "retrain": ("cooldown_hours",),
        "drift": ("drift_window_days", "error_window_days"),
        "ic": ("ic_retrain_days", "ic_retire_days", "ic_window_days"),
        "accuracy": ("accuracy_window_days", "accuracy_days"),
        "retention": ("prediction_log_days",),
        "alerts": (
            "training_slow_hours",
            "alert_repeat_hours",
            "stale_warn_days",
            "stale_model_days",
        ),
        "train": ("train_days",),
    }
    for section, keys in positive.items():
        for key in keys:
            if getattr(p, key) <= 0:
                raise bad(section, key, "is not positive: use a number above 0")
    for section, key in (("retrain", "shadow_test_days"), ("retention", "keep_versions")):
        if getattr(p, key) < 0:
            raise bad(section, key, "is negative: use 0 or more")
    for url in p.alert_urls:
        if "://" not in url:
            raise PolicyError(
                f"{src} [alerts] alert_urls has {url!r}, not an apprise URL: "
                "e.g. slack://T/B/C, tgram://token/chat, json://host:port/path"
            )
    history = p.ic_window_days + p.ic_retire_days - 1
    if p.prediction_log_days < history:
        raise bad(
            "retention",
            "prediction_log_days",
            f"keeps too little history: the retire rule reads {history} days "
            f"(ic_window_days + ic_retire_days - 1); keep at least {history}",
        )
    needed = p.accuracy_window_days + p.accuracy_days - 1
    if p.prediction_log_days < needed:
        raise bad(
            "retention",
            "prediction_log_days",
            f"keeps too little history: the accuracy rule reads {needed} days "
            "(accuracy_window_days + accuracy_days - 1); keep at least that many",
        )
    if not p.train_config:
        raise bad("train", "train_config", 'is empty: e.g. train_config = ["configs/train.json"]')
    _check_cron(p.cron, src)


def _check_cron(expr: str, src: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as err:
        raise PolicyError(
            f"{src} [scheduler] cron = {expr!r} is not a crontab expression ({err}): "
            'e.g. "0 * * * *" (hourly)'
        ) from None


def policy_from_dict(data: dict[str, Any], source: str = "(dict)") -> RetrainPolicy:
    """A validated policy from parsed TOML tables (``{"drift": {"ks_warn": 0.1}, ...}``)."""
    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in SECTIONS:
            raise PolicyError(f"{source}: table [{section}] is unknown: use {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise PolicyError(f"{source}: {section} is not a table: write [{section}] and keys")
        for key, value in table.items():
            if key not in SECTIONS[section]:
                home = next((s for s, keys in SECTIONS.items() if key in keys), None)
                close = difflib.get_close_matches(key, SECTIONS[section], n=1)
                hint = (
                    f"it belongs in [{home}]"
                    if home
                    else (f"did you mean {close[0]}? " if close else "")
                    + f"[{section}] takes {', '.join(SECTIONS[section])}"
                )
                raise PolicyError(f"{source} [{section}] {key} is unknown: {hint}")
            values[key] = _typed(f"{source} [{section}]", key, value)
    policy = RetrainPolicy(**values, source=source)
    _check_ranges(policy, source)
    return policy


def load_policy(path: str | Path = DEFAULT_POLICY) -> RetrainPolicy:
    """Read and validate the policy file; a :class:`PolicyError` (one line) when it is wrong."""
    file = Path(path)
    if not file.is_file():
        raise PolicyError(
            f"policy file {file} does not exist: pass --policy PATH "
            "(a template is configs/lifecycle.toml)"
        )
    try:
        data = tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PolicyError(f"{file} is not valid TOML: {err}") from None
    return policy_from_dict(data, source=str(file))


def lock_path(policy: RetrainPolicy) -> Path:
    """The scheduler's lock file: ``lock_file``, else ``tradai_scheduler.lock`` beside the
    policy file (the working directory for a policy built from defaults)."""
    if policy.lock_file:
        return Path(policy.lock_file)
    base = Path(policy.source).parent if Path(policy.source).is_file() else Path.cwd()
    return base / "tradai_scheduler.lock"


def policy_args(policy: RetrainPolicy) -> dict[str, Any]:
    """freqtrade parsed arguments from the policy's ``[train]`` table."""
    for path in policy.train_config:
        if not Path(path).is_file():
            raise PolicyError(
                f"{policy.source} [train] train_config has {path}, which does not exist: "
                "point it at a freqtrade config JSON"
            )
    from tradai_strategy.data.freqtrade_runner import backtest_args

    return backtest_args(
        policy.train_config,
        policy.strategy,
        strategy_path=policy.strategy_path or None,
        datadir=policy.datadir or None,
        userdir=policy.userdir,
    )

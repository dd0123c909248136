"""The tables of a retraining policy file and the keys each holds (one per
:class:`~tradai_strategy.lifecycle.policy.RetrainPolicy` field, its TOML name)."""

from __future__ import annotations

__all__ = ["SECTIONS"]

SECTIONS: dict[str, tuple[str, ...]] = {
    "model": ("model_name", "tracking_uri", "prediction_log"),
    "retrain": (
        "interval",
        "retrain_on_drift",
        "retrain_on_ic",
        "retrain_on_accuracy",
        "auto_promote",
        "shadow_test_days",
        "rollback_enabled",
        "cooldown_hours",
    ),
    "drift": (
        "feature_drift",
        "ks_warn",
        "ks_retrain",
        "drift_min_share",
        "drift_ratio",
        "drift_window_days",
        "error_window_days",
    ),
    "ic": (
        "ic_retrain_below",
        "ic_retrain_days",
        "ic_retire_below",
        "ic_retire_days",
        "ic_window_days",
        "ic_confidence",
    ),
    "accuracy": (
        "accuracy_warn_below",
        "accuracy_retrain_below",
        "accuracy_window_days",
        "accuracy_days",
        "accuracy_confidence",
    ),
    "retention": ("keep_versions", "prediction_log_days"),
    "alerts": (
        "alert_urls",
        "training_slow_hours",
        "alert_repeat_hours",
        "stale_warn_days",
        "stale_model_days",
    ),
    "train": (
        "train_config",
        "strategy",
        "strategy_path",
        "datadir",
        "userdir",
        "train_days",
        "offline",
        "skip_leakage_check",
    ),
    "validation": (
        "validation_cv",
        "validation_n_groups",
        "validation_seeds",
        "validation_jobs",
        "min_accuracy",
        "accuracy_margin",
    ),
    "scheduler": ("cron", "lock_file"),
}

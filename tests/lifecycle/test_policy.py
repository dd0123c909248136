"""configs/lifecycle.toml -> RetrainPolicy: defaults, overrides and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradai_strategy.lifecycle.policy import (
    SECTIONS,
    PolicyError,
    RetrainPolicy,
    load_policy,
    lock_path,
)

REPO = Path(__file__).resolve().parents[2]


def test_shipped_policy_equals_the_documented_defaults() -> None:
    policy = load_policy(REPO / "configs" / "lifecycle.toml")
    assert policy == RetrainPolicy()
    assert (policy.ks_warn, policy.ks_retrain, policy.drift_ratio) == (0.1, 0.2, 1.5)
    assert (policy.ic_retrain_below, policy.ic_retrain_days) == (0.02, 10)
    assert (policy.ic_retire_below, policy.ic_retire_days) == (0.0, 30)
    # every field but `source` lives in exactly one table
    keys = [k for ks in SECTIONS.values() for k in ks]
    assert len(keys) == len(set(keys)) == len(RetrainPolicy.__dataclass_fields__) - 1


def test_overrides_and_empty_strings(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[model]\nmodel_name = "m"\ntracking_uri = ""\n'
        '[retrain]\ninterval = "month-end"\nauto_promote = true\n'
        "[drift]\nks_warn = 0.05\ndrift_ratio = 2\n"
        '[alerts]\nalert_urls = ["json://127.0.0.1:9/x"]\n'
    )
    p = load_policy(path)
    assert (p.model_name, p.tracking_uri, p.interval, p.auto_promote) == (
        "m",
        None,
        "month-end",
        True,
    )
    assert p.ks_warn == 0.05 and p.drift_ratio == 2.0 and isinstance(p.drift_ratio, float)
    assert p.alert_urls == ("json://127.0.0.1:9/x",)
    assert lock_path(p) == tmp_path / "tradai_scheduler.lock"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[retrain]\ninterval = 'daily'", "[retrain] interval = 'daily' is unknown: use one of"),
        ("[retrain]\nauto_promote = 1", "auto_promote = 1 is not a boolean: write true or false"),
        ("[drift]\nks_warn = 0.3", "[drift] ks_retrain = 0.2 is not above ks_warn = 0.3"),
        ("[drift]\nks_retrain = 1.5", "ks_retrain = 1.5 is outside (0, 1]"),
        ("[drift]\ndrift_ratio = 0.9", "drift_ratio = 0.9 is not above 1"),
        (
            "[drift]\nks_wran = 0.1",
            "[drift] ks_wran is unknown: did you mean ks_warn? [drift] takes feature_drift",
        ),
        ("[model]\nks_warn = 0.1", "[model] ks_warn is unknown: it belongs in [drift]"),
        ("[tuning]\nx = 1", "table [tuning] is unknown: use model, retrain"),
        ("[retention]\nprediction_log_days = 30", "the retire rule reads 59 days"),
        ("[validation]\nvalidation_cv = 'kfold'", "validation_cv = 'kfold' is unknown"),
        ("[validation]\nvalidation_seeds = 0", "needs validation_n_groups >= 2, validation_s"),
        ("[ic]\nic_retrain_days = 0", "[ic] ic_retrain_days = 0 is not positive"),
        ("[ic]\nic_retrain_days = 2.5", "ic_retrain_days = 2.5 is not an integer: e.g. 10"),
        ("[ic]\nic_retire_below = 0.05", "ic_retire_below = 0.05 is above ic_retrain_below"),
        ("[retention]\nkeep_versions = -1", "keep_versions = -1 is negative"),
        ("[alerts]\nalert_urls = 'x'", "alert_urls = 'x' is not a list of strings"),
        ("[alerts]\nalert_urls = ['hooks.slack']", "'hooks.slack', not an apprise URL"),
        ("[train]\ntrain_config = []", "train_config = () is empty"),
        ("[train]\nstrategy = ''", "[train] strategy is empty"),
        ("[scheduler]\ncron = 'every hour'", "cron = 'every hour' is not a crontab expression"),
        ("model_name = ", "is not valid TOML"),
        ("model = 'x'", "model is not a table"),
    ],
)
def test_bad_values_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lifecycle.toml"
    path.write_text(text + "\n")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert message in str(err.value)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope.toml does not exist: pass --policy PATH"):
        load_policy(tmp_path / "nope.toml")


def test_simulate_and_retrain_build_the_same_freqtrade_args_from_the_train_table(tmp_path):
    """`retrain simulate` (CLI) and the retrain job read [train] alike, userdir included."""
    from tradai_strategy.cli.retrain_simulate import _policy_args
    from tradai_strategy.lifecycle.policy import policy_from_dict
    from tradai_strategy.lifecycle.retrain_act import policy_args

    cfg = tmp_path / "train.json"
    cfg.write_text("{}")
    train = {
        "train_config": [str(cfg)],
        "strategy": "RadStrategy",
        "datadir": str(tmp_path / "data"),
        "userdir": str(tmp_path / "ud"),
    }
    policy = policy_from_dict({"train": train})
    job = policy_args(policy)
    assert not (tmp_path / "ud").exists()  # the job lets freqtrade refuse a missing folder
    assert _policy_args(policy, None, "", None, None, None) == job
    assert (tmp_path / "ud").is_dir()  # the command line creates it, as --userdir does
    assert job["user_data_dir"] == str(tmp_path / "ud")
    assert job["datadir"] == str(tmp_path / "data") and "strategy_path" not in job

"""Quiet dangers made loud: retiring the served version with nothing behind it, and a typo
in a sqlite tracking path (it used to create an empty registry and show an empty table)."""

from __future__ import annotations

from pathlib import Path

from registry_helpers import cli, make_store

from tradai_strategy.lifecycle.promotion import Lifecycle, promote

NAME = "tradai-retire-warn"


def test_retiring_the_last_servable_version_warns_that_nothing_is_served(
    tmp_path: Path,
) -> None:
    uri = make_store(tmp_path, NAME, ["passed", "passed"])
    promote(Lifecycle.open(uri), NAME, 1, reason="first")
    code, out = cli(uri, "retire", NAME, "1", "--reason", "decay")
    assert code == 0, out
    assert "version 1 retired" in out
    assert f"{NAME} has no servable @production or @fallback now" in " ".join(out.split())
    assert "do_predict = 0" in out and f"tradai promote {NAME} VERSION" in " ".join(out.split())


def test_a_typo_in_a_sqlite_tracking_path_is_one_line_not_an_empty_registry(
    tmp_path: Path,
) -> None:
    uri = make_store(tmp_path, NAME, ["passed"])
    typo = uri.replace("mlflow.db", "mlfow.db")
    for args in (["status"], ["audit"], ["promote", NAME, "1", "--reason", "x"]):
        code, out = cli(typo, *args)
        text = " ".join(out.split())
        assert code == 2 and text.startswith("error: no MLflow store at "), (args, out)
        assert "mlfow.db: check --tracking-uri" in text
    assert not (tmp_path / "mlfow.db").exists()  # nothing created
    assert cli(uri, "status")[0] == 0

"""Retiring the served version with nothing behind it says so (it used to be silent)."""

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

"""`make demo` on its synthetic candles: the model is promoted through the gate because its
validation passed (no --force); in the replay step freqtrade's dry-run bot serves it, a
scripted retrain promotes version 2 through the same gate at simulated time, and the bot
hot-swaps at its next candle; the whole lifecycle runs in a bounded time."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from tradai_strategy.cli.app import run_cli
from tradai_strategy.cli.demo import DEMO_MODEL, run_demo
from tradai_strategy.core import tags as tag
from tradai_strategy.lifecycle.promotion import Lifecycle

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_the_demo_promotes_a_model_that_passed_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the demo runs from the checkout (RadStrategy)
    monkeypatch.delenv("TRADAI_REAL_DATA", raising=False)
    started = time.monotonic()
    report = run_demo(
        tmp_path / "demo",
        functools.partial(run_cli, standalone_mode=False),
        console=Console(file=(tmp_path / "console.txt").open("w"), width=100),
    )
    took = time.monotonic() - started
    assert report.is_file()
    lc = Lifecycle.open(f"sqlite:///{tmp_path / 'demo' / 'mlflow.db'}")
    assert lc.registry.aliases(DEMO_MODEL) == {"production": "2"}
    for version in (1, 2):
        assert lc.registry.version(DEMO_MODEL, version).tags[tag.VALIDATION_STATUS] == "passed"
    first, retrained = [e for e in lc.audit.events(DEMO_MODEL) if e.action == "promote"]
    for promotion in (first, retrained):  # through the gate, not around it
        assert not promotion.details.get("forced"), promotion
    assert (retrained.from_version, retrained.to_version) == ("1", "2")
    replay = json.loads((tmp_path / "demo" / "user_data" / "replay" / "summary.json").read_text())
    assert replay["versions_served"] == ["1", "2"]
    assert retrained.time[:16] == replay["extra"]["events"][0]["at"][:16]  # simulated time
    assert took < 200, f"the demo took {took:.0f} s"  # ~60 s alone here; CI runs 2 workers

"""`make demo` on its synthetic candles: the model is promoted through the gate because its
validation passed (no --force), and the whole lifecycle runs in a bounded time."""

from __future__ import annotations

import functools
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
    assert lc.registry.aliases(DEMO_MODEL) == {"production": "1"}
    assert lc.registry.version(DEMO_MODEL, 1).tags[tag.VALIDATION_STATUS] == "passed"
    (promotion,) = [e for e in lc.audit.events(DEMO_MODEL) if e.action == "promote"]
    assert not promotion.details.get("forced"), promotion  # through the gate, not around it
    assert took < 120, f"the demo took {took:.0f} s"  # ~25 s alone here; CI runs 2 workers

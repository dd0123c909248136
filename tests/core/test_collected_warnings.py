"""TradAI's warnings of a backtest are repeated at its end (the in-sample warning that
explains 0 trades used to be buried among ~300 log lines)."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.core.logs import collected_warnings


def test_distinct_warnings_of_tradai_loggers_in_order_redacted() -> None:
    log = logging.getLogger("tradai_strategy.bundle.predict")
    with collected_warnings() as seen:
        log.warning("TradAI: 745 candles of %s are in-sample", "BTC/USDT")
        log.warning("TradAI: 745 candles of %s are in-sample", "BTC/USDT")  # once
        log.info("not a warning")
        logging.getLogger("freqtrade.x").warning("not ours")
        log.error("registry http://alice:s3cret@host:5000 unreachable")
    assert seen == [
        "TradAI: 745 candles of BTC/USDT are in-sample",
        "registry http://alice:***@host:5000 unreachable",
    ]
    log.warning("after the block")
    assert len(seen) == 2


def test_tradai_backtest_repeats_the_warnings_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from tradai_strategy.data import freqtrade_runner

    def run(argv: list[str], **_kw: object) -> int:  # the backtest's own log, then a result
        logging.getLogger("tradai_strategy.bundle.predict").warning(
            "TradAI: 745 candles of ETH/USDT are inside the model's training data"
        )
        print("...300 lines of freqtrade output...")
        return 0

    monkeypatch.setattr(freqtrade_runner, "run_freqtrade", run)
    res = CliRunner().invoke(app, ["backtest", "--config", "c.json"])
    assert res.exit_code == 0, res.output
    tail = res.output.split("...300 lines of freqtrade output...")[-1]
    assert "TradAI warnings during this backtest (they can explain few or no trades)" in tail
    assert "745 candles of ETH/USDT are inside the model's training data" in tail

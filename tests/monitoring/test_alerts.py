"""Alerts through apprise reach a local HTTP sink on 127.0.0.1; dead URLs never raise."""

from __future__ import annotations

import logging

import pytest
from alert_helpers import Sink, closed_port

from tradai_strategy.monitoring.alerts import Alerter


def test_alert_reaches_the_sink_with_structured_fields(sink: Sink) -> None:
    ok = Alerter([sink.url]).send(
        "rollback",
        "m: auto-rollback to 1",
        "rolled back 2 -> 1",
        level="critical",
        fields={"model": "m", "version": "2", "drift_ratio": 1.83},
    )
    assert ok is True
    (got,) = sink.received
    assert sink.paths == ["/hook"]
    assert got["title"] == "[TradAI] m: auto-rollback to 1"
    assert got["type"] == "failure"  # apprise's name for a critical message
    assert got["tradai"] == {
        "event": "rollback",
        "level": "critical",
        "model": "m",
        "version": "2",
        "drift_ratio": 1.83,
    }
    # the same facts are readable in the text body of any service (Slack, e-mail …)
    assert "rolled back 2 -> 1" in got["message"]
    assert "event: rollback" in got["message"] and "drift_ratio: 1.83" in got["message"]


def test_unreachable_url_is_logged_and_the_others_still_get_it(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"json://127.0.0.1:{closed_port()}/x"
    alerter = Alerter([dead, "not-a-url", sink.url])
    with caplog.at_level(logging.WARNING, logger="tradai_strategy.monitoring.alerts"):
        ok = alerter.send("stale_model", "old", "version 1 is 50 days old", level="warning")
    assert ok is False  # not every URL accepted it ...
    assert len(sink.received) == 1  # ... but the reachable one did, and nothing raised
    assert sink.received[0]["tradai"]["event"] == "stale_model"
    text = caplog.text
    assert "was not delivered (unreachable or refused)" in text
    assert "'not-a-url' is not a valid apprise URL" in text


def test_no_urls_is_a_quiet_success_and_bad_event_names_are_caught() -> None:
    assert Alerter([]).send("training_failed", "t", "b") is True
    with pytest.raises(ValueError, match="alert event 'oops' is unknown: use one of"):
        Alerter([]).send("oops", "t", "b")
    with pytest.raises(ValueError, match="alert level 'loud' is unknown"):
        Alerter([]).send("rollback", "t", "b", level="loud")

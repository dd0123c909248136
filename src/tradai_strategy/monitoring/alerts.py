"""Alerts through apprise URLs (Slack, e-mail, Telegram, webhooks …), never fatal.

:class:`Alerter` sends one message per event to every configured URL. The message body ends
with the event's fields as ``key: value`` lines, readable in any chat; JSON webhooks
(``json://`` / ``jsons://``) also get them structured under the payload key ``"tradai"``
(``{"event", "level", "model", "version", ...}``). A URL that is invalid or unreachable is
logged as a warning and :meth:`Alerter.send` returns False: an alert never stops the flow.
"""

from __future__ import annotations

import logging
from typing import Any

from tradai_strategy.core.redact import redact_text, redact_url

logger = logging.getLogger(__name__)

EVENTS = (
    "training_failed",
    "training_slow",
    "drift_warning",
    "drift_critical",
    "ic_decay",
    "accuracy_warning",
    "accuracy_critical",
    "retrained",
    "validation_failed",
    "promoted",
    "rollback",
    "retirement",
    "stale_model",
    "shadow_decision",
    "monitoring_blind",
)
LEVELS = ("info", "success", "warning", "critical")
PAYLOAD_KEY = "tradai"


def _fields_text(fields: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in fields.items() if v is not None)


class Alerter:
    """Send TradAI events to apprise URLs.

    :param urls: apprise URLs, e.g. ``["slack://T/B/C", "json://127.0.0.1:8080/hook"]``;
        an empty list makes every :meth:`send` a no-op that returns True.
    """

    def __init__(self, urls: list[str] | tuple[str, ...]) -> None:
        self.urls = list(urls)

    def send(
        self,
        event: str,
        title: str,
        body: str,
        *,
        level: str = "info",
        fields: dict[str, Any] | None = None,
    ) -> bool:
        """Send one alert; True when every URL accepted it.

        :param event: one of :data:`EVENTS` (a ValueError otherwise: a programming error).
        :param level: one of :data:`LEVELS`.
        :param fields: extra facts (model, version, ratio …); sent with ``event`` and
            ``level``.
        """
        if event not in EVENTS:
            raise ValueError(f"alert event {event!r} is unknown: use one of {', '.join(EVENTS)}")
        if level not in LEVELS:
            raise ValueError(f"alert level {level!r} is unknown: use one of {', '.join(LEVELS)}")
        facts = {"event": event, "level": level, **(fields or {})}
        facts = {k: (v if isinstance(v, int | float | bool) else str(v)) for k, v in facts.items()}
        text = f"{body}\n\n{_fields_text(facts)}" if body else _fields_text(facts)
        ok = True
        for url in self.urls:
            ok &= self._send_one(url, f"[TradAI] {title}", text, level, facts)
        return ok

    def _send_one(self, url: str, title: str, text: str, level: str, facts: dict) -> bool:
        try:
            import apprise
            from apprise.plugins.custom_json import NotifyJSON

            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                logger.warning("alert not sent: %r is not a valid apprise URL", redact_url(url))
                return False
            if isinstance(plugin, NotifyJSON):
                plugin.payload_extras[PAYLOAD_KEY] = facts
            kind = {
                "info": apprise.NotifyType.INFO,
                "success": apprise.NotifyType.SUCCESS,
                "warning": apprise.NotifyType.WARNING,
                "critical": apprise.NotifyType.FAILURE,
            }[level]
            sent = bool(plugin.notify(body=text, title=title, notify_type=kind))
            where = plugin.url(privacy=True)
        except Exception as err:  # an alert must never stop the flow
            logger.warning(
                "alert %s to %s failed: %s", facts["event"], redact_url(url), redact_text(str(err))
            )
            return False
        if not sent:
            logger.warning(
                "alert %s to %s was not delivered (unreachable or refused): the flow goes on",
                facts["event"],
                where,
            )
        return sent

"""Run a replay's scripted events (:mod:`~tradai_strategy.replay.events`) on its clock.

:class:`EventScript` is prepared before the bot starts: it finds the served model and its
local store in the bot's config, and when the script stops the registry it starts the
replay's own registry server for that store (:mod:`~tradai_strategy.replay.registry_server`)
and points the bot's ``freqai.tradai.tracking_uri`` at its gate. Between two bot iterations the
worker calls :meth:`EventScript.run_due` with the next iteration's time; each event due by
then is applied at its own simulated instant, logged and kept for the summary.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tradai_strategy.bundle.predict import ServingSettings
from tradai_strategy.core.errors import TradAIConfigError, TradAIError
from tradai_strategy.registry.audit import local_store_dir
from tradai_strategy.registry.store import tracking_uri as default_tracking_uri
from tradai_strategy.replay.events import EventTarget, ReplayEvent, apply_event
from tradai_strategy.replay.registry_server import Gate, RegistryServer
from tradai_strategy.replay.retrain_job import RetrainJob
from tradai_strategy.serving.live_log import LogSettings
from tradai_strategy.serving.loader import ModelRef

logger = logging.getLogger(__name__)

__all__ = ["EventScript"]


class EventScript:
    """Events of one replay, the model they act on and (for outages) the registry server."""

    def __init__(
        self,
        events: list[ReplayEvent],
        config: dict[str, Any],
        workdir: Path,
        datadir: Path | None = None,
    ) -> None:
        self.events = list(events)
        self.applied: list[dict[str, str]] = []
        try:
            serving = ServingSettings.from_config(config)
        except TradAIConfigError as err:
            raise TradAIConfigError(
                f"--events acts on a registered model, but the config serves none ({err})"
            ) from None
        ref = ModelRef.parse(serving.model_uri)
        if ref.alias is None:
            raise TradAIConfigError(
                f"--events: the config serves {serving.model_uri}, a fixed version; serve an "
                "alias (models:/<name>@production) for promote/rollback to matter"
            )
        store = default_tracking_uri(serving.tracking_uri)
        self.server: RegistryServer | None = None
        self.gate: Gate | None = None
        if any(ev.do.startswith("registry_") for ev in self.events):
            folder = local_store_dir(store)
            if folder is None:
                raise TradAIConfigError(
                    f"--events registry_down/up needs a local registry the replay can serve "
                    f"(sqlite:///...), but the config's tracking URI is {store}"
                )
            self.server = RegistryServer(
                store, workdir / "registry_artifacts", workdir / "registry_server.log"
            )
            self.gate = Gate(self.server.port)
        # every retrain policy is checked now: a wrong one is one line before the bot starts
        self.jobs = {
            ev.policy: RetrainJob(
                Path(ev.policy),
                ref.name,
                store,
                LogSettings.from_config(config).path,
                datadir or Path(config["datadir"]),
                workdir,
            )
            for ev in self.events
            if ev.policy is not None
        }
        for job in self.jobs.values():
            job.check()
        self.target = EventTarget(store, ref.name, ref.alias, self._set_registry, self._retrain)

    def _retrain(self, action: str, policy: str, at: datetime) -> str:
        return self.jobs[policy].run(action, at)

    def bot_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with the bot pointed at the registry server (started here), if any."""
        if self.server is None or self.gate is None:
            return config
        self.server.start()
        self.gate.open()
        out = dict(config)
        out["freqai"] = copy.deepcopy(config["freqai"])
        out["freqai"]["tradai"]["tracking_uri"] = self.gate.uri
        source = out["freqai"]["tradai"].get("prediction_source")
        if isinstance(source, dict) and "tracking_uri" in source:
            source["tracking_uri"] = self.gate.uri
        return out

    def _set_registry(self, up: bool) -> None:
        assert self.gate is not None
        if up:
            self.gate.open()
        else:
            self.gate.close()

    def run_due(self, now: datetime, next_iteration: datetime, move_clock: Callable) -> None:
        """Apply every event due before ``next_iteration`` at its own time (module doc)."""
        while self.events and self.events[0].at <= next_iteration:
            event = self.events.pop(0)
            if now < event.at < next_iteration:
                move_clock(event.at)
                now = event.at
            try:
                result = apply_event(self.target, event)
            except TradAIError as err:
                result = f"failed: {err}"
                logger.warning("replay event %s failed: %s", event.describe(), err)
            else:
                logger.info("replay event %s: %s", event.describe(), result)
            self.applied.append({"at": event.at.isoformat(), "do": event.do, "result": result})

    def close(self) -> None:
        if self.gate is not None:
            self.gate.close()
        if self.server is not None:
            self.server.stop()

"""Where a replay got to, so that a restarted one resumes there (kill -9 included).

After every bot iteration the replay records, in ``<userdir>/replay/state.json`` (replaced
atomically: a killed process leaves the previous state or the new one, never half of one;
not fsynced, so a power cut may lose the last few), how many
candles of its span are done, with what identifies the run: the trade database, FreqAI's
``identifier``, the span's first candle and length. A replay started again with the same
database, identifier and ``--timerange`` whose state says it stopped early resumes at the
first candle not done -- the clock starts there, the bot's datadir holds the candles before
it, and freqtrade's bot finds its open trades in its database, as a restarted live bot does.
Anything else (another database, identifier or span, or a finished run) starts from the
span's start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["ReplayState", "load_state", "save_state"]

STATE_NAME = "state.json"


@dataclass(frozen=True)
class ReplayState:
    db_url: str
    identifier: str
    first_signal: str  # ISO, the span's first signal candle
    candles: int  # the span's length
    done: int  # candles of the span processed

    def resumes(self, other: ReplayState) -> bool:
        """Is ``self`` (found on disk) an unfinished run of the same replay as ``other``?"""
        same = (self.db_url, self.identifier, self.first_signal, self.candles) == (
            other.db_url,
            other.identifier,
            other.first_signal,
            other.candles,
        )
        return same and 0 < self.done < self.candles


def identity(config: dict[str, Any], first_signal: datetime, candles: int) -> ReplayState:
    """The state of a fresh replay of this config and span (nothing done)."""
    identifier = str((config.get("freqai") or {}).get("identifier") or "")
    return ReplayState(str(config["db_url"]), identifier, first_signal.isoformat(), candles, 0)


def load_state(workdir: Path) -> ReplayState | None:
    path = workdir / STATE_NAME
    try:
        return ReplayState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def save_state(workdir: Path, state: ReplayState) -> None:
    path = workdir / STATE_NAME
    tmp = path.with_suffix(".tmp")
    # no fsync (8 ms an iteration): a killed process leaves its writes to the OS, and
    # os.replace makes the new state appear whole or not at all
    tmp.write_text(json.dumps(asdict(state)))
    os.replace(tmp, path)

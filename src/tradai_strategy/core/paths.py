"""Paths: run folders, the freqaimodel shims of the installed package, the checkout's user_data."""

from __future__ import annotations

import time
from pathlib import Path

from tradai_strategy.core.errors import TradAIConfigError

#: UTC time stamp in run-folder names (``<prefix>-20250101T120000Z``)
RUN_STAMP = "%Y%m%dT%H%M%SZ"


def run_folder(userdir: str | Path, prefix: str) -> Path:
    """``<userdir>/tradai_runs/<prefix>-<UTC time>`` (not created)."""
    stamp = time.strftime(RUN_STAMP, time.gmtime())
    return Path(userdir) / "tradai_runs" / f"{prefix}-{stamp}"


def project_user_data() -> Path:
    """The repository's user_data folder, searched from the current folder upwards."""
    for base in (Path.cwd(), *Path.cwd().parents):
        cand = base / "user_data" / "strategies" / "RadStrategy.py"
        if cand.exists():
            return cand.parents[1]
    raise TradAIConfigError(
        "user_data/strategies/RadStrategy.py not found from the current folder: run the demo "
        "from the TradAI checkout (make demo)"
    )


def freqaimodels_path() -> Path:
    """The installed package's ``--freqaimodel`` shims (``tradai_strategy/freqaimodels``),
    so ``--freqaimodel TrainingPredictionModel`` & co. resolve from any working folder."""
    return Path(__file__).resolve().parents[1] / "freqaimodels"

"""Logging helpers shared by the CLI and the freqtrade runner."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_logging(level: int = logging.INFO) -> Iterator[None]:
    """Silence log records up to ``level`` (freqtrade's chatty config/strategy loading)."""
    previous = logging.root.manager.disable
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(previous)

"""Logging helpers shared by the CLI and the freqtrade runner.

:func:`quiet_logging` hides freqtrade's chatty INFO records around a call.
:func:`capture_output` sends every log record and everything printed on stdout/stderr
(freqtrade's rich log handler and tables, LightGBM, warnings) into one file, so a long
command can show a clean progress display on the terminal; :func:`verbose_logging` shows
every record on the console instead. Inside either, :func:`quiet_logging` hides nothing.
:func:`collected_warnings` keeps TradAI's own warnings of a long run to repeat them at its
end, where they explain a surprising result. Each of them turns on
:func:`~tradai_strategy.core.redact.redact_log_records`, and the log
file and console get credentials masked (:mod:`tradai_strategy.core.redact`);
:func:`redacted_output` does the same for stdout/stderr around a whole command.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

from tradai_strategy.core.redact import RedactFilter, RedactingStream, redact_log_records

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

_keep_all = 0  # > 0 while capture_output/verbose_logging are active: quiet_logging is a no-op


@contextlib.contextmanager
def quiet_logging(level: int = logging.INFO) -> Iterator[None]:
    """Silence log records up to ``level`` (freqtrade's chatty config/strategy loading)."""
    redact_log_records()
    if _keep_all:
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def _all_records(handler: logging.Handler, level: int) -> Iterator[None]:
    """Root logger at ``level`` with ``handler`` added; nothing disabled; restored after."""
    global _keep_all
    root = logging.getLogger()
    old_level, old_disable = root.level, logging.root.manager.disable
    redact_log_records()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.disable(logging.NOTSET)
    _keep_all += 1
    try:
        yield
    finally:
        _keep_all -= 1
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.disable(old_disable)


@contextlib.contextmanager
def capture_output(path: Path, level: int = logging.INFO) -> Iterator[TextIO]:
    """Write all log records (``level`` and up) and all stdout/stderr output to ``path``.

    Create any terminal display (a rich ``Console(file=sys.stdout)``) *before* entering:
    inside, ``sys.stdout`` and ``sys.stderr`` are the log file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as raw:
        stream = cast(TextIO, RedactingStream(raw))  # MLflow prints "View run at <URI>"
        handler = logging.StreamHandler(stream)
        with (
            _all_records(handler, level),
            contextlib.redirect_stdout(stream),
            contextlib.redirect_stderr(stream),
        ):
            try:
                yield stream
            finally:
                stream.flush()


@contextlib.contextmanager
def verbose_logging(level: int = logging.INFO) -> Iterator[None]:
    """Every log record (``level`` and up) on stderr, as freqtrade itself would print it."""
    with _all_records(logging.StreamHandler(sys.stderr), level):
        yield


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """Credentials masked in everything printed on stdout/stderr and in every log record
    (:mod:`tradai_strategy.core.redact`); the real streams are back afterwards."""
    redact_log_records()
    if isinstance(sys.stdout, RedactingStream) and isinstance(sys.stderr, RedactingStream):
        yield
        return
    out, err = (cast(TextIO, RedactingStream(s)) for s in (sys.stdout, sys.stderr))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield


class _Collector(logging.Handler):
    def __init__(self, seen: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = " ".join(record.getMessage().split())
        except Exception:  # a malformed record must not break the run
            return
        if message not in self.seen:
            self.seen.append(message)


@contextlib.contextmanager
def collected_warnings(logger: str = "tradai_strategy") -> Iterator[list[str]]:
    """The distinct WARNING-and-up messages of ``logger`` (and its children), in order."""
    seen: list[str] = []
    handler = _Collector(seen)
    handler.addFilter(RedactFilter())
    target = logging.getLogger(logger)
    target.addHandler(handler)
    try:
        yield seen
    finally:
        target.removeHandler(handler)

"""Credentials out of everything TradAI prints, logs, tags or copies.

A tracking URI (``http://user:password@host``), an Optuna storage
(``postgresql://user:password@host/db``) or an alert URL can carry a password. The URL used to
connect is never changed; what is shown is :func:`redact_url` / :func:`redact_text` of it:
the password of every ``scheme://user:password@host`` becomes ``***`` (the user name stays:
it says *who* failed), and so does the value of a ``password=``, ``token=``, ``secret=``,
``api_key=`` ... parameter (a query string or a libpq DSN).

Log records: :func:`redact_log_records` masks every record of the process when it is made
(:class:`RedactFilter` does the same on one handler); printed output: :class:`RedactingStream`
masks what is written through it (per ``write`` call: a URL split over two writes is missed).

>>> redact_url("http://alice:s3cr3t@mlflow:5000/path")
'http://alice:***@mlflow:5000/path'
>>> redact_text("tracking server https://bob:pw@[::1]:443 unreachable")
'tracking server https://bob:***@[::1]:443 unreachable'
>>> redact_text("sqlite:///mlflow.db")
'sqlite:///mlflow.db'
"""

from __future__ import annotations

import logging
import re
from typing import Any, TypeVar, cast

MASK = "***"

# scheme://netloc: the netloc stops at a path, query, fragment, whitespace or a quote (a
# bounded scheme keeps the scan linear on long dotted tokens)
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://)(?P<netloc>[^\s/?#\"'<>`]*)")
# key=value secrets (query strings, DSNs); `page_token=` is not `token=` (\w before it)
_SECRET_PARAM = re.compile(
    r"(?i)(?<![\w-])(?P<key>password|passwd|token|access_token|api_key|apikey|secret"
    r"|client_secret)=(?P<value>[^&#\s\"',;]+)"
)

T = TypeVar("T")


def _netloc(match: re.Match[str]) -> str:
    netloc = match["netloc"]
    userinfo, at, host = netloc.rpartition("@")  # a raw "@" in a password: the last one ends it
    if not at:
        return match.group(0)
    user, colon, password = userinfo.partition(":")
    if not colon or not password:
        return match.group(0)  # no password: nothing secret to hide
    return f"{match['scheme']}{user}:{MASK}@{host}"


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it and every ``password=``-like value
    masked (``***``); anything else unchanged."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL.sub(_netloc, text)
    return _SECRET_PARAM.sub(lambda m: f"{m['key']}={MASK}", text)


def redact_url(url: str) -> str:
    """``url`` as it may be shown: ``scheme://user:***@host...`` (see :func:`redact_text`).

    A URL without a password, or one that does not parse as a URL, comes back unchanged.
    """
    return redact_text(url)


def redact_obj(value: T) -> T:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string redacted
    by :func:`redact_text` (a config written to disk: the live object keeps its secrets)."""
    out: Any
    if isinstance(value, str):
        out = redact_text(value)
    elif isinstance(value, dict):
        out = {k: redact_obj(v) for k, v in value.items()}
    elif isinstance(value, list):
        out = [redact_obj(v) for v in value]
    elif isinstance(value, tuple):
        out = tuple(redact_obj(v) for v in value)
    else:
        out = value
    return cast(T, out)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message (and formatted traceback) redacted in place."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it itself when emitting
        return record
    clean = redact_text(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redact_text(text)
        if clean != text:
            record.exc_text = clean  # formatters use it instead of formatting exc_info again
    return record


class RedactFilter(logging.Filter):
    """A handler filter that redacts every record it passes (and drops none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class _RedactingFactory:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.inner(*args, **kwargs))


def redact_log_records() -> None:
    """From now on every log record of this process (any logger, any handler: freqtrade's
    log file, MLflow's warnings) is redacted when it is made. Idempotent."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))


class RedactingStream:
    """A text stream that writes through :func:`redact_text` to ``stream``; every other
    attribute (``flush``, ``isatty``, ``fileno``, ``encoding`` ...) is the wrapped stream's."""

    def __init__(self, stream: Any) -> None:
        self.wrapped = stream

    def write(self, text: str) -> int:
        self.wrapped.write(redact_text(text) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

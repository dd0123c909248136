"""TradAI's one error root.

Every *expected* failure (bad input, missing data, an unusable registry or log) raises a
:class:`TradAIError` whose message is one line naming the file/field and the fix. The
``tradai`` command prints that line and exits 2; anything else is a bug: its traceback is
kept and the exit code is 1.

The root derives from freqtrade's ``OperationalException`` so that freqtrade, when one
escapes inside ``freqtrade backtesting``/``trade``, also reports it as one line.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from freqtrade.exceptions import OperationalException


class TradAIError(OperationalException):
    """An expected failure: the one-line message names what is wrong and the fix.

    ``exit_code`` is the ``tradai`` command's exit status for it: 2 (bad input) unless a
    subclass says otherwise (a refused training or a failed demo step: 1).
    """

    exit_code: int = 2


class TradAIConfigError(TradAIError):
    """A configuration value is missing or wrong; the message names the key and the fix."""


class TradAIDataError(TradAIError):
    """The candles or features cannot be used as they are; the message says why and what to do."""


class MonitoringError(TradAIError):
    """Monitoring input cannot be used; the one-line message names what and the fix."""


#: errno values of a write that found no room: no space, quota exceeded, file too large
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: what a wrapper says when it kept only the text (SQLite, MLflow, pyarrow), lower case
_DISK_FULL_TEXTS = (
    "database or disk is full",
    "no space left on device",
    "disk quota exceeded",
    "file too large",
)


#: SQLite's codes (``sqlite3.Error.sqlite_errorname``) for a write that found no room: it
#: says SQLITE_FULL for ENOSPC only; EDQUOT and EFBIG come back as SQLITE_IOERR_WRITE
_SQLITE_FULL = frozenset({"SQLITE_FULL", "SQLITE_IOERR_WRITE"})


class DiskFullError(TradAIError):
    """A write found no room (full disk, quota, file size limit); the message names what was
    being written, where to free space and what was kept (see :meth:`of`)."""

    @classmethod
    def of(
        cls,
        cause: BaseException,
        writing: str,
        where: str | Path | None,
        outcome: str,
        *,
        then: str = "run again",
    ) -> DiskFullError:
        """The one-line error for ``cause`` (an exception whose chain is a full disk: see
        :func:`disk_full`): ``<writing> failed: <reason>: free space on <where> and <then>;
        <outcome>``. ``where``: the folder being written (default: the failing file's,
        when the error names it), shown with the mount point of its filesystem."""
        found = disk_full(cause) or cause
        filename = getattr(found, "filename", None)
        place = _place(Path(where) if where else (Path(filename) if filename else None))
        reason = _reason(found)
        return cls(f"{writing} failed: {reason}: free space on {place} and {then}; {outcome}")


def disk_full(err: BaseException | None) -> BaseException | None:
    """The exception of ``err``'s chain (itself, ``__cause__``, ``__context__``, recursively)
    that says a write found no room, else None: an ``OSError`` with errno ENOSPC, EDQUOT or
    EFBIG, SQLite's SQLITE_FULL or SQLITE_IOERR_WRITE, or an error whose text says so
    (SQLite's "database or disk is full" kept by a wrapper)."""
    seen: set[int] = set()
    todo = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return e
        if getattr(e, "sqlite_errorname", None) in _SQLITE_FULL:
            return e
        if any(text in str(e).lower() for text in _DISK_FULL_TEXTS):
            return e
        todo += [e.__context__, e.__cause__]
    return None


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
        text = os.strerror(err.errno).lower()
        if err.errno == errno.EFBIG:
            text += " (the disk is full or a file size limit is set: ulimit -f)"
        return f"{text} ({errno.errorcode[err.errno]})"
    code = getattr(err, "sqlite_errorname", None)
    if code in _SQLITE_FULL:
        return f"SQLite could not write the database ({code}: full disk, quota or file size limit)"
    text = str(err).lower()
    return next(t for t in (*_DISK_FULL_TEXTS, "") if t in text) or "no space left"


def _place(path: Path | None) -> str:
    """``<folder>`` and, when it is not that folder, the mount point of its filesystem."""
    if path is None:
        return "the disk being written"
    path = path.absolute()
    folder = path if path.is_dir() else path.parent
    mount = folder
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    return str(folder) if mount == folder else f"{mount} (the filesystem holding {folder})"

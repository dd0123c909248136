"""Test-only crash injection: prove that a process killed mid-change leaves nothing wrong.

``TRADAI_FAULT_INJECT=<point>`` makes :func:`fault_point` end the process at that point with
``os._exit(137)`` — as abrupt as SIGKILL: no exception handler, ``finally`` or atexit runs.
Unset (always, outside the crash tests) a point costs one environment lookup and does
nothing. The points:

``during_artifact_upload``  the bundle is uploaded, MLmodel and the file list are not
``before_version_create``   every artifact is uploaded, the model version does not exist yet
``after_version_create``    the (complete) version exists, its run is still RUNNING and the
                            alias asked for is not set yet
``after_alias_move``        an alias moved, its audit row is not committed yet
``after_retire_tag``        ``tradai.retired`` is set; the version still holds its aliases and
                            no audit row is committed
``after_retire_aliases``    the aliases are removed too; the audit rows are not committed
``during_fit``              a parallel-training worker is fitting one (pair, window)
                            (:mod:`tradai_strategy.freqai.pretrain_worker`)

:func:`tradai_strategy.lifecycle.promotion.reconcile` repairs each registry point on the next
start; the executor retries a fit whose worker died once and names it when it dies twice.

``<point>@<subject>`` fires only where the code passes that subject, e.g.
``during_fit@ETH/USDT window 1`` (the subject is last and may hold ``:``).
``<point>:once=<file>`` fires in the first process that reaches the point, which creates
``<file>`` (atomically, so across processes); every later pass sees the file and goes on —
a worker that dies once mid-run.

``<point>:enospc`` raises ``OSError(ENOSPC)`` at the point instead of exiting (a full disk
as the code sees it, the process goes on: its error handling runs). ``<point>:fsize=<bytes>``
makes the disk really full from the point on: the process's file size limit
(``RLIMIT_FSIZE``) drops to ``<bytes>`` with SIGXFSZ ignored, so every later write past that
size — artifacts, the sqlite store — fails with EFBIG in the operating system.
"""

from __future__ import annotations

import errno
import os

FAULT_ENV = "TRADAI_FAULT_INJECT"
POINTS = (
    "during_artifact_upload",
    "before_version_create",
    "after_version_create",
    "after_alias_move",
    "after_retire_tag",
    "after_retire_aliases",
    "during_fit",
)


def fault_point(name: str, subject: str = "") -> None:
    """Exit at once (status 137) when ``TRADAI_FAULT_INJECT`` names this point (and, when it
    gives one, this ``subject``); with a ``:enospc``/``:fsize=<bytes>`` mode, fill the disk
    instead, with ``:once=<file>`` exit only the first time (see the module doc)."""
    value = os.environ.get(FAULT_ENV)
    if not value:
        return
    spec, at, wanted = value.partition("@")
    point, _, mode = spec.partition(":")
    if point != name or (at and wanted != subject):
        return
    if not mode:
        os._exit(137)
    if mode.startswith("once="):
        try:
            os.close(os.open(mode.removeprefix("once="), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(137)
    if mode == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if mode.startswith("fsize="):
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(mode.removeprefix("fsize=")), hard))
        return
    raise ValueError(
        f"{FAULT_ENV}={value}: unknown mode {mode!r} (enospc, fsize=<bytes>, once=<file>)"
    )

"""Which audit trail belongs to a registered model of a tracking server, recorded in the registry.

A local store (``mlflow.db``) keeps its trail beside it, so every process finds the same one.
A tracking server has no folder of ours: its trail is a file on the machine that moves the
aliases (:func:`tradai_strategy.registry.audit.audit_path`), and the registered model's tag
``tradai.audit_trail`` says which (``<host>:<path>``). Then a command run from another folder
or with another default still writes the model's one trail, and a command on a machine that
does not hold it stops with one line instead of starting an empty history (a rollback would
then find "no history").

Rules (:func:`trail_for`): an explicit trail (``--audit-db`` or ``TRADAI_AUDIT_DB``) is used
and recorded; otherwise a recorded trail on this host that exists is used; a recorded trail
elsewhere is refused; with nothing recorded the default is used and recorded.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tradai_strategy.core import tags as tag
from tradai_strategy.registry.audit import AUDIT_ENV, audit_path, local_store_dir
from tradai_strategy.registry.client import RegistryClient, RegistryError

__all__ = ["trail_for"]


def _location(path: Path) -> str:
    return f"{socket.gethostname()}:{path.resolve()}"


def _recorded(reg: RegistryClient, model: str) -> str | None:
    """The model's ``tradai.audit_trail`` tag; None when unset or the model is unknown."""
    from mlflow.exceptions import MlflowException

    try:
        return reg.client.get_registered_model(model).tags.get(tag.AUDIT_TRAIL) or None
    except MlflowException:
        return None


def trail_for(reg: RegistryClient, audit_db: str | Path | None, model: str | None) -> Path:
    """The audit database for ``model`` in ``reg`` (see the module doc).

    :param audit_db: the user's ``--audit-db``; None: ``TRADAI_AUDIT_DB`` or the default.
    :param model: None: the default (a command over every model reads, never moves aliases).
    """
    explicit = audit_db or os.environ.get(AUDIT_ENV)
    path = Path(explicit).expanduser().resolve() if explicit else audit_path(reg.uri)
    if model is None or local_store_dir(reg.uri) is not None:
        return path
    recorded = _recorded(reg, model)
    here = _location(path)
    if recorded == here:
        return path
    if recorded and not explicit:
        host, _, where = recorded.partition(":")
        if host == socket.gethostname() and Path(where).is_file():
            return Path(where)
        raise RegistryError(
            f"the audit trail of {model} is {recorded} (registry tag {tag.AUDIT_TRAIL}), not "
            f"on this machine: run the command there, or pass --audit-db (or set {AUDIT_ENV}) "
            "to a copy of it; a new file starts a new trail and is recorded as the model's"
        )
    from mlflow.exceptions import MlflowException

    try:
        reg.client.set_registered_model_tag(model, tag.AUDIT_TRAIL, here)
    except MlflowException as err:  # an unknown model has no trail to record yet
        if "RESOURCE_DOES_NOT_EXIST" not in str(err.error_code):
            raise
    return path

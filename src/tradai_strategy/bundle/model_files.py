"""The file list of a registered MLflow model folder: every file, with its sha256.

MLflow keeps more than the bundle in a model version's folder: ``MLmodel`` (which names the
module MLflow imports to load the model), the environment files (``requirements.txt``: what
``mlflow models serve`` installs) and the input examples. Before the folder is uploaded,
:func:`write_file_list` writes ``tradai_model_files.json`` with the sha256 of every other
file; the list's own sha256 becomes the version's ``tradai.model_files_sha256`` tag. After a
download, :func:`verify_file_list` checks the list against that tag, every listed file
against the list, and refuses any file the list does not name (but MLflow's own
``registered_model_meta``, which nothing reads) — before anything in the folder is read or
imported.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.core.errors import TradAIDataError

FILE_LIST = "tradai_model_files.json"
FORMAT = "tradai-model-files/1"
#: files MLflow itself writes into a model folder it loads through ``models:/`` (with a
#: local store: into the stored folder) and never reads back: allowed unlisted at the top
WRITTEN_BY_MLFLOW = ("registered_model_meta",)


def write_file_list(model_dir: Path) -> str:
    """Write :data:`FILE_LIST` into ``model_dir`` (every other file's sha256); return its
    own sha256."""
    path = model_dir / FILE_LIST
    files = {
        p.relative_to(model_dir).as_posix(): sha256_file(p)
        for p in sorted(model_dir.rglob("*"))
        if p.is_file() and p != path
    }
    path.write_text(json.dumps({"format": FORMAT, "files": files}, indent=1, sort_keys=True))
    return sha256_file(path)


def model_dir(root: Path, what: str) -> Path:
    """The folder holding :data:`FILE_LIST` under ``root`` (a downloaded version); a
    :class:`TradAIDataError` unless there is exactly one."""
    found = sorted(root.rglob(FILE_LIST)) if root.is_dir() else []
    if len(found) != 1:
        raise TradAIDataError(
            f"{what}: the stored model has {len(found)} {FILE_LIST} files, not one: it was "
            "changed or is damaged; register the bundle again"
        )
    return found[0].parent


def verify_file_list(model_dir: Path, expected_sha: str, what: str) -> None:
    """Raise unless ``model_dir`` holds exactly the files its list names, unchanged, and the
    list is the one registered (sha256 ``expected_sha``)."""
    fix = "the stored model was changed or is damaged: register the bundle again"
    path = model_dir / FILE_LIST
    got = sha256_file(path) if path.is_file() else "missing"
    if got != expected_sha:
        raise TradAIDataError(
            f"{what}: its file list {FILE_LIST} has sha256 {got[:12]}..., not "
            f"{expected_sha[:12]}... as registered; {fix}"
        )
    files = json.loads(path.read_text())["files"]
    for rel, sha in files.items():
        parts = PurePosixPath(rel).parts
        target = model_dir / rel
        if PurePosixPath(rel).is_absolute() or ".." in parts or not target.is_file():
            raise TradAIDataError(f"{what}: listed file {rel} is missing; {fix}")
        if sha256_file(target) != sha:
            raise TradAIDataError(f"{what}: file {rel} differs from its registered sha256; {fix}")
    extra = sorted(
        p.relative_to(model_dir).as_posix()
        for p in model_dir.rglob("*")
        if (p.is_file() or p.is_symlink()) and p != path
    )
    unlisted = [rel for rel in extra if rel not in files and rel not in WRITTEN_BY_MLFLOW]
    if unlisted:
        raise TradAIDataError(
            f"{what}: file {unlisted[0]} is not in its registered file list"
            f"{f' ({len(unlisted)} such files)' if len(unlisted) > 1 else ''}; {fix}"
        )

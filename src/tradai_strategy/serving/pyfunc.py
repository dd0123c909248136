"""Load a registered bundle as an MLflow pyfunc, every stored file verified first.

``mlflow.pyfunc.load_model`` reads the stored ``MLmodel`` (which names the module to import
and any code folder to put on ``sys.path``) before any TradAI code runs, so it trusts the
artifact store. :func:`load_pyfunc` downloads the version, checks its file list against the
registry's ``tradai.model_files_sha256`` tag (every file unchanged, none added) and its
bundle manifest against ``tradai.manifest_sha256``, and only then hands the folder to MLflow,
which imports :mod:`tradai_strategy.bundle.pyfunc` from the installed package.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from tradai_strategy.bundle.model_files import model_dir, verify_file_list
from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.serving.loader import RegistryBundleLoader, UnverifiedVersionError


def fetch_pyfunc(loader: RegistryBundleLoader, version: str, manifest_sha: str | None) -> Any:
    """The pyfunc of ``version`` of the loader's model, loaded after the checks above."""
    import mlflow

    what = loader.ref.versioned(version)
    sha = loader.require_manifest(version, manifest_sha)
    files_sha = loader.version_tags(version).get(tag.MODEL_FILES)
    if not files_sha:
        raise UnverifiedVersionError(
            f"{what} has no {tag.MODEL_FILES} tag (registered before TradAI listed its "
            "files): its MLmodel and any stored code cannot be verified, so it is not loaded "
            "as a pyfunc; register its bundle again (TradAI's serving still serves its "
            "verified bundle)"
        )
    target = loader.download(version)
    try:
        folder = model_dir(target, what)
        verify_file_list(folder, files_sha, what)  # again: the cache may have changed since
        loader.bundle_dir(target, version, sha)
    except TradAIDataError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return mlflow.pyfunc.load_model(str(folder))


def load_pyfunc(
    model_uri: str, tracking_uri: str | None = None, cache_dir: str | Path | None = None
) -> Any:
    """``mlflow.pyfunc.load_model`` for a registered bundle, verified first.

    :param model_uri: ``models:/Name@alias`` (an unservable alias falls back to
        ``@fallback``, as in serving) or ``models:/Name/3``; a version that cannot be served
        (retired, unverified, incomplete) is refused.
    :param cache_dir: where versions are downloaded (default: a new temporary folder).
    """
    cache = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="tradai-pyfunc-"))
    loader = RegistryBundleLoader(model_uri, cache, tracking_uri)
    return fetch_pyfunc(loader, *loader.resolve())

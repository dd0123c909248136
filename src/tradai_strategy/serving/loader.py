"""Fetch model bundles from the MLflow registry for serving: resolve, download, verify, cache.

``models:/Name@alias`` (or ``models:/Name/3``) is resolved to a version, the version's files
are downloaded once into a local cache (``<cache>/<Name>/v<version>/``), the bundle manifest
is checked against the version's ``tradai.manifest_sha256`` tag and every artifact against
the manifest, and only then are the native model and the skops pipelines loaded. A version
registered with a file list (tag ``tradai.model_files_sha256``) is also checked file by file
as it is downloaded (MLmodel and the environment files included, no unlisted file), before
it enters the cache (:mod:`tradai_strategy.serving.pyfunc` loads the MLflow pyfunc so).

A version is served only when it is verifiable and live: a retired version (tag
``tradai.retired`` = ``true``), one without ``tradai.manifest_sha256`` (unverified: nothing
can check its files; a registration that never finished) or one reconcile tagged
``tradai.state=incomplete`` is never served. When the alias is unset or names such a
version, :func:`serving_version` picks ``@fallback`` (unless that one cannot be served
either); with neither, :class:`NoServableVersionError`.

Errors are split by what the caller should do about them: :class:`ModelNotFoundError` (the
URI names nothing: a configuration error), :class:`NoServableVersionError` (nothing may be
served now: stop predicting until a version is promoted), :class:`RegistryUnavailableError`
(the registry cannot be reached: keep serving what is cached) and ``TradAIDataError`` (a
corrupted or incompatible bundle).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freqtrade.exceptions import OperationalException

from tradai_strategy.bundle.format import MANIFEST, ModelBundle, load_bundle
from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.bundle.model_files import model_dir, verify_file_list
from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError, TradAIError
from tradai_strategy.core.redact import redact_text, redact_url
from tradai_strategy.registry.client import is_retired, unservable, unservable_detail

if TYPE_CHECKING:
    from tradai_strategy.registry.client import RegistryClient, VersionInfo

logger = logging.getLogger(__name__)

FALLBACK = "fallback"
SERVED_FILE = "served.json"
_URI_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}


class ModelNotFoundError(TradAIConfigError):
    """The model URI names no registered model, alias or version."""


class NoServableVersionError(ModelNotFoundError):
    """Neither the alias nor ``@fallback`` names a version that may be served."""


class RegistryUnavailableError(TradAIError):
    """The registry could not be reached (network, server down, timeout)."""


class UnverifiedVersionError(TradAIDataError):
    """A version without the sha256 tag(s) its files are checked against: never loaded."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    alias: str | None
    version: str | None

    @classmethod
    def parse(cls, uri: str) -> ModelRef:
        match = _URI_RE.match(uri or "")
        if match is None:
            raise TradAIConfigError(
                f"model URI {uri!r} is not models:/<name>@<alias> or models:/<name>/<version>"
            )
        return cls(match["name"], match["alias"], match["version"])

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else self.versioned(self.version)

    def versioned(self, version: str | None) -> str:
        return f"models:/{self.name}/{version}"


def choose_serving(
    registry: RegistryClient, name: str, alias: str = "production"
) -> tuple[VersionInfo | None, list[str]]:
    """The version to serve for ``@alias`` and why each skipped candidate was skipped.

    :returns: ``(version or None, notes)``; ``notes`` is empty when ``@alias`` itself is
        served, else one line per skipped alias (``"@production is retired (version 3)"``).
    """
    aliases = registry.aliases(name)
    notes: list[str] = []
    for candidate in dict.fromkeys((alias, FALLBACK)):
        version = aliases.get(candidate)
        if version is None:
            notes.append(f"alias {candidate} not found" if candidate == alias else "no @fallback")
            continue
        info = registry.version_info(name, version, aliases)
        problem = unservable(info.tags)
        if problem is None:
            return info, notes
        if problem == "retired":
            notes.append(f"@{candidate} is retired (version {version})")
        else:
            notes.append(
                f"@{candidate} is {problem} (version {version}: {unservable_detail(problem)})"
            )
    return None, notes


def serving_version(
    registry: RegistryClient, name: str, alias: str = "production"
) -> VersionInfo | None:
    """The version to serve: ``@alias`` unless unset or unservable (retired, unverified,
    incomplete), then ``@fallback`` unless unservable, else None."""
    return choose_serving(registry, name, alias)[0]


def _find_bundle(root: Path) -> Path | None:
    """The pyfunc's ``bundle`` artifact folder inside a downloaded model version."""
    found = sorted(root.rglob(MANIFEST)) if root.is_dir() else []
    return found[0].parent if found else None


class RegistryBundleLoader:
    """Resolve and fetch bundles of one model URI, with a local verified cache."""

    def __init__(
        self,
        model_uri: str,
        cache_dir: Path,
        tracking_uri: str | None,
        pairs: list[str] | None = None,
    ) -> None:
        from tradai_strategy.registry.store import tracking_uri as default_uri

        self.ref = ModelRef.parse(model_uri)
        self.cache_dir = Path(cache_dir) / self.ref.name
        self.tracking_uri = default_uri(tracking_uri)
        self.pairs = list(pairs) if pairs is not None else None
        #: why the last :meth:`resolve` did not serve the URI's own alias (None: it did)
        self.note: str | None = None

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def _registry(self) -> RegistryClient:
        from tradai_strategy.registry.client import RegistryClient, RegistryError

        try:
            return RegistryClient(self.tracking_uri)
        except RegistryError as err:  # the tracking server does not answer
            raise RegistryUnavailableError(f"registry: {err}") from None
        except Exception as err:
            msg = redact_text(" ".join(str(err).split()))[:300]
            raise RegistryUnavailableError(f"registry: {type(err).__name__}: {msg}") from None

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        from mlflow.exceptions import MlflowException

        from tradai_strategy.registry.client import RegistryError

        try:
            return fn(*args)
        except RegistryError as err:
            raise self._not_found(what, str(err)) from None
        except MlflowException as err:
            if err.error_code in _NOT_FOUND:
                raise self._not_found(what, str(err.message)) from None
            msg = redact_text(" ".join(str(err).split()))[:300]
            raise RegistryUnavailableError(f"{what}: {msg}") from None
        except Exception as err:  # connection refused, DNS, timeouts, sqlite locked ...
            msg = redact_text(" ".join(str(err).split()))[:300]
            raise RegistryUnavailableError(f"{what}: {type(err).__name__}: {msg}") from None

    def _not_found(self, what: str, message: str) -> ModelNotFoundError:
        return ModelNotFoundError(
            f"{self.ref.uri} not found in the registry at {redact_url(self.tracking_uri)} "
            f"({what}: {redact_text(' '.join(message.split()))}): register a bundle with "
            "`tradai bundle register` or fix freqai.tradai model_uri/tracking_uri"
        )

    def resolve(self) -> tuple[str, str | None]:
        """``(version, expected manifest sha256 or None)`` to serve for the URI now.

        An alias falls back to ``@fallback`` when it is unset or retired (:attr:`note` says
        why); a retired or unservable alias/version raises :class:`NoServableVersionError`.
        """
        registry = self._registry()
        if self.ref.alias:
            info, notes = self._call(
                "alias lookup", choose_serving, registry, self.ref.name, self.ref.alias
            )
            if info is None:
                self.note = "; ".join(notes)
                raise NoServableVersionError(
                    f"{self.ref.uri}: nothing to serve ({self.note}): promote a version "
                    f"(tradai promote {self.ref.name} VERSION --to {self.ref.alias}), set "
                    "@fallback, or register a bundle with `tradai bundle register`"
                )
            self.note = (
                f"{'; '.join(notes)}: serving @fallback version {info.version}" if notes else None
            )
            return info.version, info.tags.get(tag.MANIFEST)
        mv = self._call(
            "version lookup", registry.client.get_model_version, self.ref.name, self.ref.version
        )
        problem = unservable(mv.tags or {})
        if problem == "retired":
            raise NoServableVersionError(
                f"{self.ref.uri} is retired ({tag.RETIRED}=true) and is never served: "
                "use an alias or another version"
            )
        if problem is not None:
            raise NoServableVersionError(
                f"{self.ref.uri} is {problem} ({unservable_detail(problem)}) and is never "
                "served: train it again or register its bundle again (`tradai bundle "
                "register`), or use an alias"
            )
        return str(mv.version), (mv.tags or {}).get(tag.MANIFEST)

    def retired(self, version: str) -> bool:
        """True when ``version`` is retired now; False when it is not or the registry cannot
        tell (unreachable: keep serving what is cached)."""
        try:
            mv = self._call(
                "version lookup", self._client().get_model_version, self.ref.name, version
            )
        except OperationalException:
            return False
        return is_retired(mv.tags or {})

    def version_tags(self, version: str) -> dict[str, str]:
        """The version's tags, read now."""
        mv = self._call("version lookup", self._client().get_model_version, self.ref.name, version)
        return dict(mv.tags or {})

    def download(self, version: str) -> Path:
        """The version's stored files in the cache, downloaded once. With a file list tag
        (``tradai.model_files_sha256``) every file is checked before the download enters the
        cache; a download that fails the check is dropped."""
        target = self.cache_dir / f"v{version}"
        if _find_bundle(target) is not None:
            return target
        import mlflow

        what = self.ref.versioned(version)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".v{version}-", dir=self.cache_dir))
        try:
            files_sha = self.version_tags(version).get(tag.MODEL_FILES)
            # the registry's own location of the files: a models:/ URI would be resolved
            # against the process-wide registry URI, not ours
            source = self._call(
                "download", self._client().get_model_version_download_uri, self.ref.name, version
            )
            self._call(
                "download",
                lambda: mlflow.artifacts.download_artifacts(
                    artifact_uri=source, dst_path=str(tmp), tracking_uri=self.tracking_uri
                ),
            )
            if files_sha:
                verify_file_list(model_dir(tmp, what), files_sha, what)
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def require_manifest(self, version: str, manifest_sha: str | None) -> str:
        """``manifest_sha``; an :class:`UnverifiedVersionError` when the version has none."""
        if not manifest_sha:
            raise UnverifiedVersionError(
                f"{self.ref.versioned(version)} has no {tag.MANIFEST} tag: its files cannot be "
                "verified, so it is never served (a registration that never finished, or made "
                "outside tradai); train it again or register its bundle again"
            )
        return manifest_sha

    def bundle_dir(self, target: Path, version: str, manifest_sha: str) -> Path:
        """The bundle folder of a downloaded version, its manifest checked against the tag
        (a mismatching download is dropped from the cache)."""
        what = self.ref.versioned(version)
        found = _find_bundle(target)
        if found is None:
            raise TradAIDataError(
                f"{what} is not a TradAI bundle (no {MANIFEST}): "
                "register it with `tradai bundle register`"
            )
        got = sha256_file(found / MANIFEST)
        if got != manifest_sha:
            shutil.rmtree(target, ignore_errors=True)
            raise TradAIDataError(
                f"{what}: the bundle manifest's sha256 {got[:12]}... differs from the registry "
                f"tag {tag.MANIFEST}={manifest_sha[:12]}...: the artifact is corrupted or was "
                "changed; register the bundle again"
            )
        return found

    def fetch(self, version: str, manifest_sha: str | None) -> ModelBundle:
        """Download (unless cached) and load a version's bundle, verified; a version without
        a manifest tag is refused before anything is downloaded."""
        sha = self.require_manifest(version, manifest_sha)
        target = self.download(version)
        found = self.bundle_dir(target, version, sha)
        try:
            return load_bundle(found, pairs=self.pairs)
        except TradAIDataError:
            shutil.rmtree(target, ignore_errors=True)  # download again next time
            raise

    # ---- what was served last (for a restart while the registry is down) -----------------
    @property
    def served_path(self) -> Path:
        """This loader's served-version record (:data:`SERVED_FILE` for the served model)."""
        return self.cache_dir / SERVED_FILE

    def remember(self, version: str, manifest_sha: str | None) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        record = {"model_uri": self.ref.uri, "version": version, "manifest_sha256": manifest_sha}
        self.served_path.write_text(json.dumps(record))

    def forget(self) -> None:
        """Drop the served-version record (its version may no longer be served)."""
        self.served_path.unlink(missing_ok=True)

    def last_served(self) -> tuple[str, str | None] | None:
        path = self.served_path
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        if record.get("model_uri") != self.ref.uri:
            return None
        return str(record["version"]), record.get("manifest_sha256")

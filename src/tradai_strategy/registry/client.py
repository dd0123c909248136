"""TradAI's registry layer over :class:`mlflow.MlflowClient`: aliases, not stages.

Promotion is moving an alias (``production``, ``staging``, ``challenger``, ``fallback``) to a
version; rollback is moving it back. Retention deletes old *unaliased* versions only.
Every failure is a :class:`RegistryError` with one line naming the model/version/alias and
the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.redact import redact_url
from tradai_strategy.registry import store

if TYPE_CHECKING:
    from mlflow import MlflowClient

ALIASES = ("production", "staging", "challenger", "fallback")


def is_retired(tags: dict[str, str]) -> bool:
    """True when a version's tags mark it retired (``tradai.retired`` = ``true``, any case)."""
    return str(tags.get(tag.RETIRED, "")).strip().lower() == "true"


#: ``tradai.state`` of a version whose registration never finished (set by reconcile)
INCOMPLETE = "incomplete"


def unservable(tags: dict[str, str]) -> str | None:
    """Why a version with these tags may never be served or promoted, or None.

    ``"retired"``; ``"incomplete"`` (``tradai.state``: its registration never finished);
    ``"unverified"`` (no ``tradai.manifest_sha256``: nothing can check its files).
    """
    if is_retired(tags):
        return "retired"
    if tags.get(tag.STATE) == INCOMPLETE:
        return "incomplete"
    if not tags.get(tag.MANIFEST):
        return "unverified"
    return None


def unservable_detail(problem: str) -> str:
    """One clause saying what an :func:`unservable` answer means."""
    return {
        "retired": f"{tag.RETIRED}=true",
        "incomplete": f"{tag.STATE}={INCOMPLETE}: its registration never finished",
        "unverified": f"no {tag.MANIFEST} tag: its files cannot be verified",
    }.get(problem, problem)


class RegistryError(TradAIConfigError):
    """A registry operation that cannot be done as asked (unknown model, version or alias)."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version, as TradAI reads it."""

    name: str
    version: str
    aliases: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    created_ms: int = 0
    run_id: str | None = None


def _info(mv: Any, alias_map: dict[str, str]) -> VersionInfo:
    # aliases come from the registered model: search results do not always carry them
    mine = {a for a, v in alias_map.items() if v == str(mv.version)} | set(mv.aliases or ())
    return VersionInfo(
        name=str(mv.name),
        version=str(mv.version),
        aliases=tuple(sorted(mine)),
        tags=dict(mv.tags or {}),
        description=str(mv.description or ""),
        created_ms=int(mv.creation_timestamp or 0),
        run_id=mv.run_id,
    )


def bound_registry_calls(timeout: float, retries: int = 2, backoff: int | None = 1) -> None:
    """Keep a failing registry call short (MLflow retries for minutes by default).

    Sets MLflow's HTTP retry/timeout (and, unless ``backoff`` is None, backoff) environment
    variables unless the user set them.
    """
    import os

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    if backoff is not None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", str(backoff))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, int(timeout))))


def check_reachable(uri: str, timeout: float = 3.0) -> None:
    """For an ``http(s)://`` tracking URI, one TCP connect (``timeout`` s) to its host/port.

    MLflow's own client retries a dead server for minutes (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
    with exponential backoff); this fails in seconds with the fix instead.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as err:
        raise RegistryError(
            f"tracking server {redact_url(uri)} unreachable ({err.strerror or err}): start it "
            "or pass --tracking-uri"
        ) from None


def check_alias(alias: str) -> str:
    """``alias`` if TradAI knows it, else a :class:`RegistryError` listing the known ones."""
    if alias not in ALIASES:
        raise RegistryError(f"alias {alias!r} is unknown: use one of {', '.join(ALIASES)}")
    return alias


class RegistryClient:
    """Search versions, resolve and move aliases, tag, describe and prune one MLflow registry.

    :param tracking_uri: default: :func:`tradai_strategy.registry.store.tracking_uri`.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        from mlflow import MlflowClient

        self.uri = store.tracking_uri(tracking_uri)
        check_reachable(self.uri)
        store.ensure_store(self.uri)  # a new sqlite store is created by one process at a time
        self.client: MlflowClient = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    # --- reading ---
    def _registered(self) -> list[Any]:
        found: list[Any] = []
        token = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def models(self) -> list[str]:
        """Names of all registered models, sorted."""
        return sorted(m.name for m in self._registered())

    def all_aliases(self) -> dict[str, dict[str, str]]:
        """Model -> (alias -> version) for every registered model, in one search."""
        return {
            str(m.name): {str(k): str(v) for k, v in (m.aliases or {}).items()}
            for m in self._registered()
        }

    def _model(self, name: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(name)
        except MlflowException as err:
            if "RESOURCE_DOES_NOT_EXIST" in str(err.error_code):
                known = ", ".join(self.models()) or "none registered yet"
                raise RegistryError(
                    f"model {name!r} is not registered in {redact_url(self.uri)}: known "
                    f"models: {known}"
                ) from None
            raise

    def versions(self, name: str) -> list[VersionInfo]:
        """All versions of ``name``, newest (highest number) first."""
        alias_map = {str(k): str(v) for k, v in (self._model(name).aliases or {}).items()}
        found = self.client.search_model_versions(f"name = '{name}'")
        return sorted((_info(mv, alias_map) for mv in found), key=lambda v: -int(v.version))

    def all_versions(self, name: str | None = None) -> list[VersionInfo]:
        """Every version of ``name`` (default: of every model), aliases included."""
        if name is not None:
            return self.versions(name)
        aliases = self.all_aliases()
        found: list[VersionInfo] = []
        token = None
        while True:
            page = self.client.search_model_versions(max_results=10000, page_token=token)
            found.extend(_info(mv, aliases.get(str(mv.name), {})) for mv in page)
            token = page.token
            if not token:
                return found

    def version_info(self, name: str, version: str | int, aliases: dict[str, str]) -> VersionInfo:
        """One version read directly (no search), its aliases taken from ``aliases``."""
        return _info(self.client.get_model_version(name, str(version)), aliases)

    def version(self, name: str, version: str | int) -> VersionInfo:
        """One version; a :class:`RegistryError` naming the existing versions when missing."""
        wanted = str(version)
        for v in self.versions(name):
            if v.version == wanted:
                return v
        known = ", ".join(v.version for v in self.versions(name)) or "none"
        raise RegistryError(f"model {name!r} has no version {wanted}: versions are {known}")

    def aliases(self, name: str) -> dict[str, str]:
        """Alias -> version for ``name``."""
        return {str(k): str(v) for k, v in (self._model(name).aliases or {}).items()}

    def resolve(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None when the alias is not set."""
        return self.aliases(name).get(check_alias(alias))

    def resolve_required(self, name: str, alias: str) -> VersionInfo:
        """The version ``alias`` points at; a :class:`RegistryError` when it is not set."""
        found = self.resolve(name, alias)
        if found is None:
            raise RegistryError(
                f"model {name!r} has no @{alias} version: promote one first "
                f"(tradai promote {name} VERSION --to {alias})"
            )
        return self.version(name, found)

    def run_metrics(self, run_id: str | None) -> dict[str, float]:
        """Latest value of each metric of a version's run; {} without a run (or when deleted)."""
        from mlflow.exceptions import MlflowException

        if not run_id:
            return {}
        try:
            return {str(k): float(v) for k, v in self.client.get_run(run_id).data.metrics.items()}
        except MlflowException:
            return {}

    # --- writing ---
    def set_alias(self, name: str, alias: str, version: str | int) -> str | None:
        """Point ``alias`` at ``version``; return the version it pointed at before (or None)."""
        check_alias(alias)
        target = self.version(name, version).version
        previous = self.resolve(name, alias)
        self.client.set_registered_model_alias(name, alias, target)
        return previous

    def delete_alias(self, name: str, alias: str) -> str | None:
        """Remove ``alias``; return the version it pointed at (None: it was not set)."""
        previous = self.resolve(name, alias)
        if previous is not None:
            self.client.delete_registered_model_alias(name, alias)
        return previous

    def set_tags(self, name: str, version: str | int, tags: dict[str, str]) -> None:
        """Set (overwrite) tags on one version."""
        target = self.version(name, version).version
        for key, value in tags.items():
            self.client.set_model_version_tag(name, target, key, str(value))

    def set_description(self, name: str, version: str | int, text: str) -> None:
        """Replace the description of one version."""
        target = self.version(name, version).version
        self.client.update_model_version(name, target, description=text)

    def apply_retention(self, name: str, keep: int, *, dry_run: bool = False) -> list[str]:
        """Delete all but the newest ``keep`` unaliased versions; aliased ones always stay.

        :returns: the versions deleted (or that would be, with ``dry_run``), newest first.
        """
        if keep < 0:
            raise RegistryError(f"keep={keep} is negative: pass 0 or more versions to keep")
        unaliased = [v for v in self.versions(name) if not v.aliases]
        doomed = [v.version for v in unaliased[keep:]]
        if not dry_run:
            for version in doomed:
                self.client.delete_model_version(name, version)
        return doomed

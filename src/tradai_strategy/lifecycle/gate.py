"""The promotion gate's input: validate one registered version and tag it with the verdict.

:func:`validate_version` runs ``tradai validate``'s pipeline (purged CV of the configured
estimator on the strategy's own features, :func:`~tradai_strategy.validation.pipeline.
run_validation`) for the strategy and config a version was trained with, logs the run to
MLflow and writes three tags on the version:

* ``tradai.validation_status``: ``passed`` or ``failed`` (what :func:`~.promotion.promote`
  checks),
* ``tradai.validation_reasons``: the verdict's reasons, ``; ``-joined (short text),
* ``tradai.validation_run_id``: the MLflow run holding the full report.

The validation timerange defaults to the version's ``tradai.data_range`` tag (the data it
was trained on) when that is a freqtrade timerange, else the config's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradai_strategy.core import tags as tag
from tradai_strategy.lifecycle.train import config_hash
from tradai_strategy.registry.client import RegistryClient, RegistryError

if TYPE_CHECKING:
    from tradai_strategy.stats.overfitting import Verdict
    from tradai_strategy.validation.report import ValidationReport

MAX_REASONS_CHARS = 500
#: keyword arguments of :func:`validate_version` that go to ``run_validation``, not settings
_RUN_OPTIONS = ("pairs", "skip_leakage_check", "progress", "notify")
_TIMERANGE = re.compile(r"^\d{8}-\d{0,8}$|^-\d{8}$")


@dataclass(frozen=True)
class GateResult:
    """A validated, tagged version: the full report, the MLflow run and the tags written."""

    name: str
    version: str
    report: ValidationReport
    run_id: str
    tags: dict[str, str]
    timerange: str | None

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict


def reasons_text(verdict: Verdict, limit: int = MAX_REASONS_CHARS) -> str:
    """The verdict's reasons as one short line (``all checks passed`` when there are none).

    >>> from tradai_strategy.stats.overfitting import Verdict
    >>> reasons_text(Verdict(False, ["IC too weak: 0.01 < 0.03", "overfit: gap 0.9"], {}))
    'IC too weak: 0.01 < 0.03; overfit: gap 0.9'
    >>> reasons_text(Verdict(True, [], {}))
    'all checks passed'
    """
    text = "; ".join(verdict.reasons) if verdict.reasons else "all checks passed"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def default_timerange(tags: dict[str, str]) -> str | None:
    """The version's training timerange (``tradai.data_range``) if it is freqtrade syntax.

    >>> default_timerange({"tradai.data_range": "20240101-20240401"})
    '20240101-20240401'
    >>> default_timerange({"tradai.data_range": "2024-01-01..2024-04-01"}) is None
    True
    """
    value = tags.get(tag.DATA_RANGE, "")
    return value if _TIMERANGE.match(value) else None


def check_strategy(info_tags: dict[str, str], args: dict[str, Any], label: str) -> None:
    trained = info_tags.get(tag.STRATEGY)
    if trained and trained != str(args.get("strategy")):
        raise RegistryError(
            f"{label} was trained with strategy {trained!r}, not {args.get('strategy')!r}: "
            f"pass --strategy {trained}"
        )


def validate_and_tag(
    args: dict[str, Any],
    name: str,
    version: str | int,
    *,
    tracking_uri: str | None = None,
    timerange: str | None = None,
    offline: bool = False,
    **cv_options: Any,
) -> GateResult:
    """Validate ``name`` version ``version`` and tag it; return the report and run id.

    :param args: freqtrade parsed arguments (config, strategy, strategy_path, datadir,
        user_data_dir), e.g. from :func:`tradai_strategy.cli.common.freqtrade_args`.
    :param offline: accepted for symmetry with training; validation reads candles from the
        data folder and never needs the exchange.
    :param cv_options: :class:`~tradai_strategy.validation.runner.ValidationSettings` fields
        (``cv``, ``n_groups``, ``k``, ``purge``, ``embargo``, ``seeds``, ``jobs``, ``cost``,
        ``n_trials``, ``metrics``, ``thresholds``), ``run_validation``'s ``pairs``,
        ``skip_leakage_check``, ``progress``, ``notify``, and ``split_runs`` (one nested
        MLflow run per split).
    :raises RegistryError: unknown model/version, or the version was trained with another
        strategy.
    :raises TradAIConfigError, TradAIDataError, FreqtradeRunError: as ``tradai validate``.
    """
    del offline  # no exchange access in validation
    from tradai_strategy.core.logs import quiet_logging
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.validation.pipeline import run_validation
    from tradai_strategy.validation.runner import ValidationSettings
    from tradai_strategy.validation.tracking import log_report

    registry = RegistryClient(tracking_uri)
    info = registry.version(name, version)
    label = f"{name} version {info.version}"
    check_strategy(info.tags, args, label)
    split_runs = bool(cv_options.pop("split_runs", False))
    run_kw = {k: cv_options.pop(k) for k in _RUN_OPTIONS if k in cv_options}
    settings = ValidationSettings(**cv_options)
    chosen = timerange or default_timerange(info.tags)
    if not run_kw.get("pairs") and info.tags.get(tag.PAIRS):
        run_kw["pairs"] = info.tags[tag.PAIRS].split(",")
    with quiet_logging():
        cfg = resolve_config(args)
        datadir = args.get("datadir")
        report = run_validation(
            cfg,
            settings,
            timerange=chosen,
            datadir=Path(datadir) if datadir else None,
            **run_kw,
        )
    same_config = info.tags.get(tag.CONFIG_HASH) == config_hash(list(args["config"]))
    if tag.CONFIG_HASH in info.tags and not same_config:
        report.verdict.warnings.append(
            f"the config files differ from the ones {label} was trained with "
            "(tradai.config_hash): the verdict is about this config"
        )
    run_id = log_report(
        report,
        registry.uri,
        run_name=f"validate-{name}-v{info.version}",
        extra_tags={tag.MODEL_NAME: name, tag.MODEL_VERSION: info.version},
        split_runs=split_runs,
    )
    tags = {
        tag.VALIDATION_STATUS: "passed" if report.verdict.passed else "failed",
        tag.VALIDATION_REASONS: reasons_text(report.verdict),
        tag.VALIDATION_RUN_ID: run_id,
    }
    registry.set_tags(name, info.version, tags)
    return GateResult(name, info.version, report, run_id, tags, chosen)


def validate_version(
    args: dict[str, Any],
    name: str,
    version: str | int,
    *,
    tracking_uri: str | None = None,
    timerange: str | None = None,
    offline: bool = False,
    **cv_options: Any,
) -> Verdict:
    """Validate a registered version, tag it ``passed``/``failed`` and return the verdict.

    See :func:`validate_and_tag` (which also returns the report and the MLflow run id).
    """
    return validate_and_tag(
        args,
        name,
        version,
        tracking_uri=tracking_uri,
        timerange=timerange,
        offline=offline,
        **cv_options,
    ).verdict

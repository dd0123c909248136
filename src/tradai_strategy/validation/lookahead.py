"""Lookahead guard: prove a strategy's %-features are causal and its &-targets look forward.

:func:`check_lookahead` computes the strategy's FreqAI features and targets exactly as FreqAI
does (:func:`tradai_strategy.data.features.build_features`: every ``feature_engineering_*``
function, included timeframe, correlated pair and shifted candle) once on the full candles and
once per sampled cut point on candles truncated at that cut (only candles closed by then, see
:mod:`~tradai_strategy.validation.lookahead_data`). No model is trained.

Findings (``Finding.kind``):

* ``feature_lookahead`` — a %-feature whose value on a row before the cut changed when the
  candles after the cut were removed: it reads the future;
* ``informative_merge_early`` — the same, but only when the cut falls inside an open candle
  of a higher timeframe: an informative candle merged before it closed;
* ``target_not_forward`` — a &-target that never changed at the last kept row: it is fully
  known at its row, so it is a feature, not a label;
* ``feature_equals_target`` — a %-feature with |corr| > 0.99 to a &-target;
* ``feature_equals_future_close`` — a %-feature with |corr| > 0.99 to the close k candles
  ahead (k = 1..label_period_candles; compared as changes and as returns).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from freqtrade.strategy import IStrategy

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import label_period_candles
from tradai_strategy.data.features import (
    build_features,
    freqai_section,
    load_candles,
    load_strategy,
)
from tradai_strategy.validation import lookahead_checks as checks
from tradai_strategy.validation.lookahead_data import (
    CandleSource,
    Cut,
    PastOnlyProvider,
    higher_timeframes,
    sample_cuts,
    timeframe_delta,
)
from tradai_strategy.validation.lookahead_report import Finding, FindingKind, LookaheadReport

__all__ = ["Finding", "FindingKind", "LookaheadReport", "check_lookahead"]


@dataclass
class _Context:
    config: dict[str, Any]
    strategy: IStrategy
    source: CandleSource
    higher: list[str]
    horizon: int
    samples: int
    seed: int


def _build(ctx: _Context, pair: str, cut: Cut | None) -> pd.DataFrame:
    when = None if cut is None else cut.time
    cast(Any, ctx.strategy).dp = PastOnlyProvider(ctx.source, when)
    return build_features(
        ctx.config, ctx.strategy, pair, ctx.source.truncated(when), with_targets=True
    ).frame


def _date(frame: pd.DataFrame, row: int) -> str | None:
    if "date" not in frame.columns or not 0 <= row < len(frame):
        return None
    return str(pd.Timestamp(frame["date"].iloc[row]).isoformat())


def _cut_range(ctx: _Context, pair: str, full: pd.DataFrame) -> tuple[int, int]:
    """First and last row a cut may keep (warm-up before, a full label horizon after)."""
    n = len(full)
    first = max(int(getattr(ctx.strategy, "startup_candle_count", 0) or 0), n // 10, 1)
    start = ctx.source.earliest_cut()
    if start is not None and "date" in full.columns:
        closes = pd.DatetimeIndex(full["date"]) + timeframe_delta(ctx.config["timeframe"])
        first = max(first, int(closes.searchsorted(start)))
    last = n - 1 - ctx.horizon
    if last < first:
        raise TradAIDataError(
            f"only {n} {ctx.config['timeframe']} candles for {pair}: the lookahead check needs "
            f"more than {first + ctx.horizon + 1} (warm-up {first} + label_period_candles "
            f"{ctx.horizon}): widen --timerange"
        )
    return first, last


def _aligned_rows(full: pd.DataFrame, trunc: pd.DataFrame, k: int) -> pd.DataFrame:
    """``trunc`` re-ordered on ``full``'s first ``k`` dates (when a strategy dropped rows)."""
    if len(trunc) == k and (
        "date" not in trunc.columns or trunc["date"].equals(full["date"].iloc[:k])
    ):
        return trunc
    return trunc.set_index("date").reindex(full["date"].iloc[:k]).reset_index()


def _check_pair(ctx: _Context, pair: str) -> tuple[list[Finding], int, int, list[str]]:
    """Findings, number of cuts, number of features and the targets of one pair."""
    full = _build(ctx, pair, None)
    features = [c for c in full.columns if "%" in c and "&" not in c]
    targets = [c for c in full.columns if "&" in c]
    name = type(ctx.strategy).__name__
    if not features:
        raise TradAIDataError(
            f"{name} produced no %-feature columns for {pair}: it is not a FreqAI strategy "
            "(add features in feature_engineering_*)"
        )
    if not targets:
        raise TradAIDataError(
            f"{name}.set_freqai_targets added no &-column for {pair}: FreqAI needs a target"
        )
    first, last = _cut_range(ctx, pair, full)
    cuts = sample_cuts(
        full["date"], ctx.config["timeframe"], ctx.higher, ctx.samples,
        first=first, last=last, seed=ctx.seed,
    )  # fmt: skip
    full_x = checks.numeric_values(full, features)
    leaks: dict[str, list[tuple[int, checks.ColumnDiff]]] = {}
    checked = dict.fromkeys(targets, 0)
    changed = dict.fromkeys(targets, 0)
    for i, cut in enumerate(cuts):
        k = cut.row + 1
        trunc = _aligned_rows(full, _build(ctx, pair, cut), k)
        for diff in checks.prefix_differences(
            full_x, checks.numeric_values(trunc, features), features
        ):
            leaks.setdefault(diff.column, []).append((i, diff))
        for t in targets:
            before = full[t].iloc[cut.row]
            if pd.isna(before):
                continue
            checked[t] += 1
            after = trunc[t].iloc[cut.row] if t in trunc.columns else None
            changed[t] += not checks.same_value(before, after)
    findings = [_leak_finding(ctx, pair, full, cuts, col, hits) for col, hits in leaks.items()]
    findings += [
        Finding(
            kind="target_not_forward",
            column=t,
            pair=pair,
            row=min(c.row for c in cuts),
            date=_date(full, min(c.row for c in cuts)),
            difference=0.0,
            message=f"{t} is fully known at its own row (unchanged at all {checked[t]} cuts "
            "right after the row): it is a feature, not a label; make it look forward "
            "(e.g. close.shift(-n))",
            details={"cuts_checked": checked[t]},
        )
        for t in targets
        if checked[t] and not changed[t]
    ]
    findings += _copy_findings(ctx, pair, full, full_x, features, targets)
    return findings, len(cuts), len(features), targets


def _leak_finding(
    ctx: _Context,
    pair: str,
    full: pd.DataFrame,
    cuts: list[Cut],
    column: str,
    hits: list[tuple[int, checks.ColumnDiff]],
) -> Finding:
    leaked = {i for i, _ in hits}
    first_cut, first = min(hits, key=lambda h: h[1].first_row)
    max_abs = max(d.max_abs for _, d in hits)
    depth = max(d.depth for _, d in hits)
    tf = checks.merge_early_timeframe(leaked, cuts, ctx.higher)
    details = {
        "cuts_leaked": len(leaked),
        "cuts": len(cuts),
        "max_relative": max(d.max_rel for _, d in hits),
        "nan_mismatch_rows": sum(d.nan_rows for _, d in hits),
        "looks_ahead_candles": depth,
        "cut_date": str(cuts[first_cut].time.isoformat()),
    }
    size = f"by up to {max_abs:.3g}" if max_abs > 0 else "between NaN and a value"
    if tf is not None:
        details["timeframe"] = tf
        message = (
            f"{column} changes when the cut falls inside an open {tf} candle and never when "
            f"it has just closed ({len(leaked)}/{len(cuts)} cuts, {size}): a {tf} candle is "
            f"merged before it closes; use merge_informative_pair(df, inf, "
            f"'{ctx.config['timeframe']}', '{tf}') or FreqAI's include_timeframes"
        )
        kind: FindingKind = "informative_merge_early"
    else:
        message = (
            f"{column} changes on rows before the cut when later candles are removed "
            f"({len(leaked)}/{len(cuts)} cuts, {size}, up to {depth} candle(s) before the "
            "cut): it reads future candles"
        )
        kind = "feature_lookahead"
    return Finding(
        kind=kind,
        column=column,
        pair=pair,
        row=first.first_row,
        date=_date(full, first.first_row),
        difference=max_abs,
        message=message,
        details=details,
    )


def _copy_findings(
    ctx: _Context,
    pair: str,
    full: pd.DataFrame,
    full_x: np.ndarray,
    features: list[str],
    targets: list[str],
) -> list[Finding]:
    series = [s for t in targets for s in checks.target_series(full, t)]
    out = [
        Finding(
            kind="feature_equals_target",
            column=feat,
            pair=pair,
            row=None,
            date=None,
            difference=corr,
            message=f"{feat} is a copy of the target {target} (corr {corr:+.4f}): "
            "a feature built from the label leaks it",
            details={"target": target},
        )
        for feat, (target, corr) in checks.copies_of_targets(full_x, features, series).items()
    ]
    close = full["close"].to_numpy(dtype=np.float64)
    found = checks.copies_of_future_close(full_x, features, close, ctx.horizon)
    out += [
        Finding(
            kind="feature_equals_future_close",
            column=feat,
            pair=pair,
            row=None,
            date=None,
            difference=corr,
            message=f"{feat} tracks the close {k} candle(s) ahead (corr {corr:+.4f} on "
            f"{how}): it is built from close.shift(-{k})",
            details={"candles_ahead": k, "compared_as": how},
        )
        for feat, (k, how, corr) in found.items()
    ]
    return out


def _resolve_inputs(
    config: dict[str, Any], pairs: list[str] | None, samples: int
) -> tuple[list[str], int]:
    freqai_section(config)  # one clear line when the freqai section is missing
    if samples < 1:
        raise TradAIConfigError(f"samples must be at least 1 (got {samples}): pass --samples 20")
    chosen = list(
        pairs if pairs is not None else config.get("exchange", {}).get("pair_whitelist", [])
    )
    if not chosen:
        raise TradAIConfigError(
            "exchange.pair_whitelist is empty: list the pairs to check in the config or pass pairs"
        )
    return chosen, label_period_candles(config)


def check_lookahead(
    config: dict[str, Any],
    strategy: IStrategy | None = None,
    pairs: list[str] | None = None,
    timerange: str | None = None,
    samples: int = 20,
    seed: int = 0,
) -> LookaheadReport:
    """Check a FreqAI strategy for lookahead, without training (see the module docstring).

    :param config: resolved freqtrade config (``freqai`` enabled, ``timeframe``, ``datadir``).
    :param strategy: the strategy object; loaded from ``config["strategy"]`` when ``None``.
    :param pairs: pairs to check; default ``exchange.pair_whitelist``.
    :param timerange: candles to use (freqtrade syntax); default ``config["timerange"]`` or all.
    :param samples: cut points per pair.
    :param seed: seed of the cut sampling (same seed, same cuts).
    :raises TradAIConfigError: bad config or argument (one line naming it and the fix).
    :raises TradAIDataError: missing or too few candles, no features or targets.
    """
    started = time.perf_counter()
    chosen, horizon = _resolve_inputs(config, pairs, samples)
    timerange = timerange or config.get("timerange")
    if strategy is None:
        try:
            strategy = load_strategy(config)
        except ImportError as err:  # freqtrade's sanity checks (e.g. shorting on spot)
            reason = " ".join(str(err).split())
            raise TradAIConfigError(
                f"strategy {config.get('strategy')!r} cannot be loaded: {reason}"
            ) from err
    datadir = Path(config["datadir"])
    source = CandleSource(
        config,
        load_candles(config, chosen, timerange, datadir),
        timerange=timerange,
        datadir=datadir,
    )
    previous_dp = getattr(strategy, "dp", None)
    try:
        cast(Any, strategy).dp = PastOnlyProvider(source, None)
        if not hasattr(strategy, "freqai_info"):  # set by freqtrade when it starts FreqAI
            cast(Any, strategy).freqai_info = config["freqai"]
        declared = [str(p[1]) for p in strategy.informative_pairs() if len(p) > 1]
        fp = config["freqai"]["feature_parameters"]
        ctx = _Context(
            config=config,
            strategy=strategy,
            source=source,
            higher=higher_timeframes(
                config["timeframe"], [*fp.get("include_timeframes", []), *declared]
            ),
            horizon=horizon,
            samples=samples,
            seed=seed,
        )
        findings: list[Finding] = []
        cuts: dict[str, int] = {}
        n_features, all_targets = 0, list[str]()
        for pair in chosen:
            found, cuts[pair], n, targets = _check_pair(ctx, pair)
            findings += found
            n_features = max(n_features, n)
            all_targets = list(dict.fromkeys([*all_targets, *targets]))
    finally:
        cast(Any, strategy).dp = previous_dp
    return LookaheadReport(
        strategy=type(strategy).__name__,
        pairs=chosen,
        timerange=timerange,
        cuts=cuts,
        features=n_features,
        targets=all_targets,
        findings=findings,
        elapsed_s=time.perf_counter() - started,
    )

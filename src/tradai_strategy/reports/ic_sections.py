"""The report's IC sections: the rolling cross-sectional IC of a version's out-of-sample
predictions and the paired test of two versions.

Both read :mod:`tradai_strategy.stats.live_ic`: per candle, the Spearman IC across the pairs
(:func:`~tradai_strategy.reports.oos_table.candle_ic`), averaged over a window with an
overlap-aware standard error (the label horizon ``label_period_candles`` comes from the
version's run params). The daily time-series IC of all rows the report drew before was
biased by the overlapping labels (about +0.13 for a zero-skill mean-reversion predictor on a
random walk) and is gone.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd

from tradai_strategy.reports import figures as fg
from tradai_strategy.reports.html import Section, kv_table

if TYPE_CHECKING:
    from tradai_strategy.reports.sources import VersionData

#: days of the rolling window IC
ROLLING_DAYS = 30


def label_horizon(params: dict[str, str]) -> int | None:
    """``label_period_candles`` from the version's run params (None: not logged)."""
    value = str(params.get("label_period_candles", ""))
    return int(value) if value.isdigit() and int(value) > 0 else None


def no_horizon(data: VersionData) -> str:
    """Why a section needing the label horizon is empty."""
    return f"{data.label}'s run logs no label_period_candles param (the label horizon)"


def realised_name(table: pd.DataFrame | None, horizon: int | None) -> str:
    """What the table's ``realised`` column is, for the report's text: the strategy's own
    label (a ``label`` column other than ``&-s_close``) or the forward mean return."""
    from tradai_strategy.core.labels import RETURN_LABEL

    label = None
    if table is not None and "label" in table.columns and len(table):
        label = str(table["label"].iloc[0])
    if label and label != RETURN_LABEL:
        return f"realised values of the strategy's target {label}"
    return f"realised {horizon}-candle forward returns"


def rolling_section(data: VersionData) -> Section:
    """The rolling cross-sectional IC of the out-of-sample predictions, ± 2 s.e."""
    from tradai_strategy.reports import oos_table as ot
    from tradai_strategy.stats.live_ic import MIN_PAIRS, rolling_window_ic, window_ic

    sec = Section("rolling-ic", f"Rolling {ROLLING_DAYS}-day cross-sectional IC")
    sec.missing = "no prediction table (oos/predictions.parquet) logged on the version's run"
    horizon, pairs = label_horizon(data.params), ot.usable_pairs(data.predictions)
    if data.predictions is None or data.predictions.empty:
        return sec
    if len(pairs) < MIN_PAIRS:
        sec.missing = (
            f"only {len(pairs)} pair(s) ({', '.join(pairs) or 'none'}): the cross-sectional IC "
            f"ranks the pairs at each candle and needs >= {MIN_PAIRS}; train on more pairs "
            "(exchange.pair_whitelist) to see it"
        )
        return sec
    if horizon is None:
        sec.missing = no_horizon(data) + ": the IC's s.e. needs it"
        return sec
    per_candle = ot.candle_ic(data.predictions)
    if per_candle.empty:
        sec.missing = f"no candle has usable predictions of >= {MIN_PAIRS} pairs"
        return sec
    sec.figure = fg.rolling_ic_figure(
        rolling_window_ic(per_candle, horizon, ROLLING_DAYS), ROLLING_DAYS
    )
    if sec.figure is None:
        sec.body = (
            f'<p class="nodata">no rolling figure: the predictions span fewer than '
            f"{max(1, ROLLING_DAYS // 3)} days</p>"
        )
    realised = html.escape(realised_name(data.predictions, horizon))
    whole = window_ic(per_candle["ic"], horizon, pairs=per_candle["pairs"])
    sec.body += (
        f"<p>{html.escape(fg.rolling_ic_title(ROLLING_DAYS))}: per candle, the Spearman "
        f"correlation of the predictions and the {realised} "
        f"across the {len(pairs)} pairs (unbiased under no skill however the labels overlap); "
        f"each day the mean over the last {ROLLING_DAYS} days, with a standard error that "
        f"counts the overlap (autocovariances up to lag {horizon - 1}). Whole out-of-sample "
        f"period: IC {html.escape(whole.text())}, {whole.pairs:.1f} pairs per candle. A real "
        "signal's IC grows with the number of pairs: compare it only on the same pairs.</p>"
    )
    return sec


def compare_section(data: VersionData, other: VersionData) -> Section:
    """Run metrics side by side, the rolling cross-sectional IC of both versions and the
    paired test (new = ``data``) on the candles both predicted."""
    from tradai_strategy.reports.oos_table import candle_ic
    from tradai_strategy.stats.compare import PairedTestError, paired_ic_test, recommend
    from tradai_strategy.stats.live_ic import CROSS_SECTIONAL, rolling_window_ic

    sec = Section("compare", f"Version comparison: {data.label} vs {other.label}")
    keys = sorted(set(data.metrics) | set(other.metrics))
    rows = [(k, other.metrics.get(k), data.metrics.get(k)) for k in keys]
    sec.body = kv_table(rows, ["metric", other.label, data.label])
    horizon, other_h = label_horizon(data.params), label_horizon(other.params)
    sec.missing = "no cross-sectional IC for the versions (needs >= 2 pairs)"
    if horizon is None or other_h not in (None, horizon):
        why = (
            no_horizon(data)
            if horizon is None
            else f"label horizons differ ({other_h} vs {horizon} candles)"
        )
        sec.body += f"<p>significance: not tested: {html.escape(why)}</p>"
        sec.missing = why
        return sec
    ic = {d.label: candle_ic(d.predictions) for d in (other, data)}
    rolling = {label: rolling_window_ic(c, horizon, ROLLING_DAYS) for label, c in ic.items()}
    sec.figure = fg.compare_ic_figure(rolling, ROLLING_DAYS)
    try:
        res = paired_ic_test(ic[data.label]["ic"], ic[other.label]["ic"], horizon)
    except PairedTestError as err:
        sec.body += f"<p>significance: not tested: {html.escape(str(err))}</p>"
        return sec
    sec.body += kv_table(
        [
            ("method", CROSS_SECTIONAL),
            ("ΔIC (new - old)", res.delta_ic),
            ("± s.e. (overlap-aware)", res.se),
            ("t", res.t_stat),
            (f"p-value (t, {res.n_periods - 1:.0f} df)", res.p_value),
            ("candles", res.n),
            (f"non-overlapping {horizon}-candle periods", res.n_periods),
            ("recommendation (ΔIC > 0.01, p < 0.05)", recommend(res)),
        ],
        ["paired cross-sectional IC test", "value"],
    )
    return sec

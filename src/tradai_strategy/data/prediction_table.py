"""The prediction table: one schema for predictions made outside the backtest that uses them.

A prediction table has one row per ``(pair, candle)``:

=================  ==========================================================================
``date``           candle open time, timezone-aware **UTC** (the candle the prediction is for;
                   with a ``timeframe`` it must be one of that timeframe's candle open times)
``pair``           ``BASE/QUOTE`` as in the whitelist
``&-...``          at least one FreqAI label column; for every numeric label ``L`` also
                   ``L_mean`` and ``L_std`` (FreqAI's ``labels_mean``/``labels_std``: the
                   strategy scales the prediction with them)
``do_predict``     integer 0/1 (1 = use the prediction)
``DI_values``      optional, numeric
other columns      optional, numeric (class probabilities of a classifier, extra returns)
=================  ==========================================================================

Numeric columns hold numbers only (no text in any row) and, on rows with ``do_predict = 1``,
finite ones; a classifier's class label is not empty there. Rows with ``do_predict = 0`` may
hold NaN: they are not used.

Every read validates the table (:func:`read_predictions`), so a file that went through a
spreadsheet or another tool fails with one line naming the problem instead of producing a
silently different backtest. CSV and parquet are supported; floats written to CSV round-trip
exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.exchange import timeframe_to_prev_date, timeframe_to_seconds

from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.candle_scan import on_candle_grid

__all__ = [
    "DATE",
    "DI_VALUES",
    "DO_PREDICT",
    "PAIR",
    "infer_timeframe",
    "label_columns",
    "read_predictions",
    "validate_predictions",
    "write_predictions",
]

DATE, PAIR, DO_PREDICT, DI_VALUES = "date", "pair", "do_predict", "DI_values"
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_EXPORT_HINT = "export one with `tradai predictions export --identifier <id> --out <file>`"
_TIMEFRAMES = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
)


def _fail(source: str, msg: str) -> TradAIDataError:
    return TradAIDataError(f"{source}: {msg}")


def _format(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise _fail(str(path), f"unknown file type {path.suffix!r}: use .csv or .parquet")
    return fmt


def label_columns(columns: list[str] | pd.Index) -> list[str]:
    """The label columns of a table: ``&``-columns that are not ``_mean``/``_std`` statistics."""
    amp = [str(c) for c in columns if str(c).startswith("&")]
    return [c for c in amp if not c.endswith(("_mean", "_std"))]


def _is_utc(tz: object) -> bool:
    return str(tz) in {"UTC", "UTC+00:00", "Etc/UTC", "+00:00"}


def _parse_dates(raw: pd.Series, source: str) -> pd.Series:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        parsed = raw  # naive: reported below
    else:
        text = raw.astype("string")
        if text.isna().any():
            raise _fail(source, f"column 'date' is empty in row {int(text.isna().argmax())}")
        try:
            parsed = pd.to_datetime(text, format="ISO8601")
        except (ValueError, TypeError) as err:
            if "timezone" in str(err).lower() or "offset" in str(err).lower():
                raise _fail(
                    source,
                    "column 'date' mixes UTC offsets: write every date in UTC "
                    "(e.g. 2025-01-01 00:00:00+00:00)",
                ) from None
            bad = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").isna()
            first = text[bad].iloc[0] if bad.any() else text.iloc[0]
            raise _fail(
                source,
                f"column 'date' has {first!r}, which is not a date: use ISO 8601 UTC "
                "(e.g. 2025-01-01 00:00:00+00:00)",
            ) from None
    if not isinstance(parsed.dtype, pd.DatetimeTZDtype):
        first = raw.iloc[0] if len(raw) else ""
        raise _fail(
            source,
            f"column 'date' is timezone-naive (e.g. {first!s}): write UTC dates with an offset, "
            "e.g. 2025-01-01 00:00:00+00:00",
        )
    if not _is_utc(parsed.dt.tz):
        raise _fail(
            source,
            f"column 'date' is in timezone {parsed.dt.tz}, not UTC: convert it to UTC "
            "(freqtrade candles are UTC)",
        )
    return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _check_columns(df: pd.DataFrame, source: str) -> list[str]:
    cols = [str(c) for c in df.columns]
    missing = [c for c in (DATE, PAIR, DO_PREDICT) if c not in cols]
    labels = label_columns(cols)
    if not labels:
        missing.append("at least one &-label column (e.g. &-s_close)")
    if missing:
        raise _fail(
            source,
            f"missing column(s) {', '.join(missing)} (has: {', '.join(cols)}); expected "
            f"date, pair, &-columns, do_predict[, DI_values]: {_EXPORT_HINT}",
        )
    index_cols = [c for c in cols if c.startswith("Unnamed:") or c == "index"]
    if index_cols:
        raise _fail(
            source,
            f"unexpected column(s) {', '.join(index_cols)}: the file was written with its "
            "row index; write it with index=False",
        )
    features = [c for c in cols if c.startswith("%")]
    if features:
        raise _fail(
            source,
            f"feature column(s) {', '.join(features[:3])}{'...' if len(features) > 3 else ''} "
            "do not belong in a prediction table: drop them",
        )
    for label in labels:
        if not _numeric_label(df, label):
            continue  # a classifier's class label (string) has no mean/std
        stats = [f"{label}_mean", f"{label}_std"]
        absent = [s for s in stats if s not in cols]
        if absent:
            raise _fail(
                source,
                f"missing column(s) {', '.join(absent)}: the strategy scales {label} with the "
                "training labels' mean/std (FreqAI's labels_mean/labels_std); add them",
            )
    return labels


def _numeric_label(df: pd.DataFrame, label: str) -> bool:
    """A regression label: numeric, or with ``_mean``/``_std`` columns, or mostly numbers
    (text in it is then an error); else a classifier's class label (strings)."""
    if pd.api.types.is_numeric_dtype(df[label]):
        return True
    if f"{label}_mean" in df.columns or f"{label}_std" in df.columns:
        return True
    values = df[label].dropna()
    return bool(len(values)) and float(pd.to_numeric(values, errors="coerce").notna().mean()) >= 0.5


def _where(out: pd.DataFrame, mask: npt.NDArray[np.bool_]) -> str:
    """``<pair> <date>`` of the first row of ``mask`` (the table is sorted by pair, date)."""
    first = out.loc[mask].sort_values(DATE, kind="stable").iloc[0]
    return f"{first[PAIR]} {first[DATE]}"


def _check_values(out: pd.DataFrame, labels: list[str], source: str) -> None:
    """Text in numeric columns (any row); NaN/inf or empty predictions where do_predict = 1."""
    use = out[DO_PREDICT].to_numpy() == 1
    classes = [c for c in labels if not _numeric_label(out, c)]
    numeric = [c for c in out.columns if c not in (DATE, PAIR, DO_PREDICT, *classes)]
    for col in numeric:
        raw = out[col]
        if not pd.api.types.is_numeric_dtype(raw.dtype):
            text = (pd.to_numeric(raw, errors="coerce").isna() & raw.notna()).to_numpy()
            if not text.any():  # numbers stored as text
                text = raw.notna().to_numpy()
            example = raw[text].iloc[0]
            raise _fail(
                source,
                f"column {col!r} is not numeric: {int(text.sum())} value(s) are text (e.g. "
                f"{example!r}), first {_where(out, text)}: write numbers in every prediction "
                "column (only a classifier's &-label holds class names)",
            )
        bad = use & ~np.isfinite(raw.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            raise _fail(
                source,
                f"column {col!r} has {int(bad.sum())} NaN/inf value(s) on do_predict=1 rows, "
                f"first {_where(out, bad)}: write a finite number there or set do_predict to 0 "
                "on those rows (a NaN prediction silently takes no trade)",
            )
    for col in classes:
        bad = use & out[col].isna().to_numpy()
        if bad.any():
            raise _fail(
                source,
                f"column {col!r} is empty on {int(bad.sum())} do_predict=1 row(s), first "
                f"{_where(out, bad)}: write the predicted class there or set do_predict to 0",
            )


def _check_grid(out: pd.DataFrame, timeframe: str, source: str) -> None:
    """Every date must be a candle open time of ``timeframe``."""
    off = ~on_candle_grid(out[DATE], timeframe)
    if off.any():
        first = out.loc[off].sort_values(DATE, kind="stable").iloc[0]
        candle = timeframe_to_prev_date(timeframe, first[DATE].to_pydatetime())
        raise _fail(
            source,
            f"{int(off.sum())} date(s) are not {timeframe} candle open times, first "
            f"{first[PAIR]} {first[DATE]}: stamp each prediction with the open time of its "
            f"candle (here {pd.Timestamp(candle)}); no candle would match it and it would "
            "silently never trade",
        )


def infer_timeframe(table: pd.DataFrame) -> str | None:
    """The timeframe of a validated table: its most common step between a pair's
    consecutive dates, when that is a usual freqtrade timeframe (else ``None``)."""
    same_pair = table[PAIR].eq(table[PAIR].shift()).to_numpy()
    steps = table[DATE].diff().to_numpy()[same_pair]
    steps = steps[steps > np.timedelta64(0)]
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    seconds = int(pd.Timedelta(values[np.argmax(counts)]).total_seconds())
    return next((tf for tf in _TIMEFRAMES if timeframe_to_seconds(tf) == seconds), None)


def _check_do_predict(values: pd.Series, source: str) -> pd.Series:
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise _fail(
            source,
            f"column 'do_predict' must be 0 or 1, row {i} has {values.iloc[i]!r}",
        )
    return pd.Series(arr.astype(np.int64), index=values.index)


def validate_predictions(
    df: pd.DataFrame, source: str = "predictions", *, timeframe: str | None = None
) -> pd.DataFrame:
    """Check ``df`` against the schema; return it normalised (UTC ns dates, sorted, int flags).

    :param source: shown at the start of every error message (usually the file path).
    :param timeframe: the strategy's candle timeframe: every date must be one of its candle
        open times (``None``: not checked).
    :raises TradAIDataError: wrong or missing columns, naive or non-UTC dates, duplicate
        ``(pair, date)``, ``do_predict`` not 0/1, no rows, text in a numeric column,
        NaN/inf (or an empty class) on a ``do_predict = 1`` row, dates off the candle grid.
    """
    if df.empty:
        raise _fail(source, f"has no rows: {_EXPORT_HINT}")
    labels = _check_columns(df, source)
    out = df.copy()
    out[DATE] = _parse_dates(out[DATE].reset_index(drop=True), source).array
    pairs = out[PAIR]
    if pairs.isna().any() or not all(isinstance(p, str) and "/" in p for p in pairs.unique()):
        bad = next(p for p in pairs.unique() if not (isinstance(p, str) and "/" in p))
        raise _fail(source, f"column 'pair' has {bad!r}: use BASE/QUOTE pairs like BTC/USDT")
    out[DO_PREDICT] = _check_do_predict(out[DO_PREDICT], source)
    dup = out.duplicated([PAIR, DATE], keep=False)
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise _fail(
            source,
            f"{int(dup.sum())} rows share a (pair, date), e.g. {first[PAIR]} {first[DATE]}: "
            "keep one prediction per pair and candle",
        )
    out[PAIR] = out[PAIR].astype(str)
    out = out.sort_values([PAIR, DATE], kind="stable").reset_index(drop=True)
    _check_values(out, labels, source)
    if timeframe is not None:
        _check_grid(out, timeframe, source)
    return out


def read_predictions(path: str | Path, *, timeframe: str | None = None) -> pd.DataFrame:
    """Read and validate a prediction table (``.csv`` or ``.parquet``).

    :param timeframe: as in :func:`validate_predictions`.
    :raises TradAIDataError: the file is missing or unreadable, or fails
        :func:`validate_predictions`.
    """
    p = Path(path)
    fmt = _format(p)
    if not p.is_file():
        raise _fail(str(p), f"prediction file does not exist: {_EXPORT_HINT}")
    try:
        if fmt == "csv":
            df = pd.read_csv(p, float_precision="round_trip", dtype={DATE: str, PAIR: str})
        else:
            df = pd.read_parquet(p)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise _fail(str(p), f"cannot be read as {fmt} ({' '.join(str(err).split())})") from None
    return validate_predictions(df, str(p), timeframe=timeframe)


def write_predictions(table: pd.DataFrame, path: str | Path) -> Path:
    """Validate ``table`` and write it to ``path`` (format from the suffix). Returns the path."""
    p = Path(path)
    fmt = _format(p)
    clean = validate_predictions(table, str(p))
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            clean.to_csv(p, index=False)
        else:
            clean.to_parquet(p, index=False)
    except OSError as err:  # the user's --out: a folder that cannot be made, no permission
        raise _fail(str(p), f"cannot be written ({err.strerror or err})") from err
    return p

"""The prediction table: one schema for predictions made outside the backtest that uses them.

A prediction table has one row per ``(pair, candle)``:

=================  ==========================================================================
``date``           candle open time, timezone-aware **UTC** (the candle the prediction is for)
``pair``           ``BASE/QUOTE`` as in the whitelist
``&-...``          at least one FreqAI label column; for every numeric label ``L`` also
                   ``L_mean`` and ``L_std`` (FreqAI's ``labels_mean``/``labels_std``: the
                   strategy scales the prediction with them)
``do_predict``     integer 0/1 (1 = use the prediction)
``DI_values``      optional, numeric
other columns      optional, numeric (class probabilities of a classifier, extra returns)
=================  ==========================================================================

Every read validates the table (:func:`read_predictions`), so a file that went through a
spreadsheet or another tool fails with one line naming the problem instead of producing a
silently different backtest. CSV and parquet are supported; floats written to CSV round-trip
exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIDataError

__all__ = [
    "DATE",
    "DI_VALUES",
    "DO_PREDICT",
    "PAIR",
    "label_columns",
    "read_predictions",
    "validate_predictions",
    "write_predictions",
]

DATE, PAIR, DO_PREDICT, DI_VALUES = "date", "pair", "do_predict", "DI_values"
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_EXPORT_HINT = "export one with `tradai predictions export --identifier <id> --out <file>`"


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
        if not pd.api.types.is_numeric_dtype(df[label]):
            continue  # a classifier's class label (string) has no mean/std
        stats = [f"{label}_mean", f"{label}_std"]
        absent = [s for s in stats if s not in cols]
        if absent:
            raise _fail(
                source,
                f"missing column(s) {', '.join(absent)}: the strategy scales {label} with the "
                "training labels' mean/std (FreqAI's labels_mean/labels_std); add them",
            )
    numeric = [c for c in cols if c not in (DATE, PAIR) and c not in labels]
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise _fail(
                source,
                f"column {col!r} is not numeric (dtype {df[col].dtype}, e.g. "
                f"{df[col].iloc[0]!r}): prediction columns other than labels must be numbers",
            )
    return labels


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


def validate_predictions(df: pd.DataFrame, source: str = "predictions") -> pd.DataFrame:
    """Check ``df`` against the schema; return it normalised (UTC ns dates, sorted, int flags).

    :param source: shown at the start of every error message (usually the file path).
    :raises TradAIDataError: wrong or missing columns, naive or non-UTC dates, duplicate
        ``(pair, date)``, ``do_predict`` not 0/1, no rows.
    """
    if df.empty:
        raise _fail(source, f"has no rows: {_EXPORT_HINT}")
    _check_columns(df, source)
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
    return out


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read and validate a prediction table (``.csv`` or ``.parquet``).

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
    return validate_predictions(df, str(p))


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

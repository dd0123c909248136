"""The prediction table schema: round trips, one clear error per bad input, the export CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.prediction_table import (
    label_columns,
    read_predictions,
    validate_predictions,
    write_predictions,
)

LABEL = "&-s_close"


def _table(rows: int = 5, pairs: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frames = []
    for pair in pairs:
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.date_range("2024-02-01", periods=rows, freq="1h", tz="UTC"),
                    "pair": pair,
                    LABEL: rng.normal(size=rows) / 7.0,
                    f"{LABEL}_mean": 0.001234567891234567,
                    f"{LABEL}_std": 0.01,
                    "do_predict": [1] * (rows - 1) + [0],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    table = _table()
    path = write_predictions(table, tmp_path / f"preds{suffix}")
    back = read_predictions(path)
    assert list(back.columns) == list(table.columns)
    assert str(back["date"].dt.tz) == "UTC"
    assert back["do_predict"].dtype == np.int64
    # floats round-trip bit for bit (the inference backtest must see the same numbers)
    assert (back[LABEL].to_numpy() == table[LABEL].to_numpy()).all()
    assert (back[f"{LABEL}_mean"] == table[f"{LABEL}_mean"]).all()


def test_label_columns_skip_statistics() -> None:
    cols = ["date", "pair", LABEL, f"{LABEL}_mean", f"{LABEL}_std", "&-s_updown", "up"]
    assert label_columns(cols) == [LABEL, "&-s_updown"]


def test_classifier_table_with_probabilities_is_valid() -> None:
    t = _table().drop(columns=[LABEL, f"{LABEL}_mean", f"{LABEL}_std"])
    t["&-s_updown"] = "up"
    t["up"], t["down"] = 0.6, 0.4
    assert len(validate_predictions(t)) == len(t)


def _write_csv(tmp_path: Path, df: pd.DataFrame, **kw) -> Path:
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=kw.get("index", False))
    return path


def _error(path: Path) -> str:
    with pytest.raises(TradAIDataError) as exc:
        read_predictions(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_missing_file(tmp_path: Path) -> None:
    msg = _error(tmp_path / "nope.csv")
    assert "does not exist" in msg and "tradai predictions export" in msg


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(TradAIDataError, match=r"unknown file type '\.xlsx'"):
        read_predictions(tmp_path / "p.xlsx")


def test_missing_columns(tmp_path: Path) -> None:
    msg = _error(_write_csv(tmp_path, _table().drop(columns=["do_predict"])))
    assert "missing column(s) do_predict" in msg
    msg = _error(_write_csv(tmp_path, _table().drop(columns=[LABEL, f"{LABEL}_mean"])))
    assert "at least one &-label column" in msg


def test_missing_label_statistics(tmp_path: Path) -> None:
    msg = _error(_write_csv(tmp_path, _table().drop(columns=[f"{LABEL}_std"])))
    assert f"missing column(s) {LABEL}_std" in msg and "labels_std" in msg


def test_wrong_columns(tmp_path: Path) -> None:
    assert "row index" in _error(_write_csv(tmp_path, _table(), index=True))
    t = _table()
    t["%-rsi"] = 1.0
    assert "feature column(s) %-rsi" in _error(_write_csv(tmp_path, t))
    t = _table()
    t["up"] = "maybe"
    assert "column 'up' is not numeric" in _error(_write_csv(tmp_path, t))
    t = _table()
    t["do_predict"] = 2
    assert "'do_predict' must be 0 or 1" in _error(_write_csv(tmp_path, t))
    t = _table()
    t.loc[0, "pair"] = "BTCUSDT"
    assert "BASE/QUOTE" in _error(_write_csv(tmp_path, t))


def test_duplicate_pair_date(tmp_path: Path) -> None:
    t = _table()
    t = pd.concat([t, t.iloc[[2]]], ignore_index=True)
    msg = _error(_write_csv(tmp_path, t))
    assert "2 rows share a (pair, date)" in msg and "BTC/USDT" in msg


def test_naive_dates(tmp_path: Path) -> None:
    t = _table()
    t["date"] = t["date"].dt.tz_localize(None)
    assert "timezone-naive" in _error(_write_csv(tmp_path, t))
    path = tmp_path / "naive.parquet"
    t.to_parquet(path)
    assert "timezone-naive" in _error(path)


def test_non_utc_dates(tmp_path: Path) -> None:
    t = _table()
    t["date"] = t["date"].dt.tz_convert("Europe/Paris")
    assert "not UTC" in _error(_write_csv(tmp_path, t))
    path = tmp_path / "paris.parquet"
    t.to_parquet(path)
    assert "not UTC" in _error(path)
    # one row with another offset: mixed offsets
    path = tmp_path / "mixed.csv"
    text = _table().to_csv(index=False).splitlines()
    text[1] = text[1].replace("+00:00", "+02:00", 1)
    path.write_text("\n".join(text) + "\n")
    msg = _error(path)
    assert "UTC" in msg


def test_unparseable_date(tmp_path: Path) -> None:
    t = _table()
    t["date"] = t["date"].astype(str)
    t.loc[3, "date"] = "yesterday"
    assert "not a date" in _error(_write_csv(tmp_path, t))


def test_export_cli_merges_windows_and_validates(tmp_path: Path) -> None:
    model_dir = tmp_path / "user_data" / "models" / "ident"
    folder = model_dir / "backtesting_predictions"
    folder.mkdir(parents=True)
    (model_dir / "run_params.json").write_text(json.dumps({"pairs": ["BTC/USDT"]}))
    for ts, start in ((1706745600, "2024-02-01"), (1706832000, "2024-02-02")):
        df = _table(24, ("BTC/USDT",)).drop(columns=["pair"])
        df["date"] = pd.date_range(start, periods=24, freq="1h", tz="UTC").as_unit("ms")
        df["%%-user"] = 1.0
        df.to_feather(folder / f"cb_btc_{ts}_prediction.feather")
    out = tmp_path / "preds.csv"
    res = CliRunner().invoke(
        app,
        [
            "predictions",
            "export",
            "--identifier",
            "ident",
            "--userdir",
            str(tmp_path / "user_data"),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    table = read_predictions(out)
    assert len(table) == 48 and set(table["pair"]) == {"BTC/USDT"}
    assert "%%-user" not in table.columns
    res = CliRunner().invoke(app, ["predictions", "check", str(out)])
    assert res.exit_code == 0 and "BTC/USDT: 48 rows" in res.output
    res = CliRunner().invoke(
        app, ["predictions", "export", "--identifier", "nope", "--out", str(out)]
    )
    assert res.exit_code == 2 and "does not exist" in res.output

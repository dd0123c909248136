"""``tradai init``: a project ready for TradAI in an empty (or existing) folder.

It writes a freqtrade user directory (freqtrade's own layout) with TradAI's model shims in
``freqaimodels/`` (plain ``freqtrade`` commands then find ``--freqaimodel
TrainingPredictionModel`` & co. without ``--freqaimodel-path``), a strategy subclassing
:class:`~tradai_strategy.strategy.TradAIStrategy`, a training and an inference config built
by :mod:`tradai_strategy.cli.config_builder` for that strategy and estimator, and a
retraining policy (``lifecycle.toml``) naming the model ``tradai train`` registers.

Idempotent: a file that already holds what would be written is left alone; one that differs
is the user's and is kept unless ``--force`` (which first copies it to ``<file>.bak-<UTC
time>``): nothing the user made is lost.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated

import typer
from rich.table import Table

from tradai_strategy.cli.common import console, fail

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_POLICY_KEYS = ("model_name", "strategy", "train_config", "userdir")


def _keep_key(value: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement keeping the ``key = `` part and putting ``value`` after it."""
    return lambda m: m[1] + value


def render_policy(model_name: str, strategy: str, train_config: str, userdir: str) -> str:
    """The commented policy template with the ``[model]``/``[train]`` names of a project."""
    text = (TEMPLATES / "lifecycle.toml").read_text()
    values = {
        "model_name": json.dumps(model_name),
        "strategy": json.dumps(strategy),
        "train_config": json.dumps([train_config]),
        "userdir": json.dumps(userdir),
    }
    for key in _POLICY_KEYS:
        pattern = rf'^({key}\s*=\s*)("[^"\n]*"|\[[^\]\n]*\])'
        text, count = re.subn(pattern, _keep_key(values[key]), text, flags=re.M)
        if count != 1:  # the template lost a key: a packaging bug
            raise RuntimeError(f"templates/lifecycle.toml has {count} '{key} =' lines, not 1")
    return text


def render_strategy(class_name: str, timeframe: str, target: str) -> str:
    """The strategy file of ``class_name``."""
    template = Template((TEMPLATES / "strategy.py.tmpl").read_text())
    return template.substitute(class_name=class_name, timeframe=timeframe, target=target)


@dataclass(frozen=True)
class Planned:
    path: Path
    text: str


def _shims() -> list[tuple[str, str]]:
    """(file name, text) of the package's freqaimodel shims."""
    from tradai_strategy.core.paths import freqaimodels_path

    return [
        (p.name, p.read_text())
        for p in sorted(freqaimodels_path().glob("*.py"))
        if p.name != "__init__.py"
    ]


def _write(files: list[Planned], force: bool) -> list[tuple[Path, str]]:
    """Write each planned file; return (path, what happened)."""
    done = []
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for item in files:
        if item.path.exists():
            if item.path.read_text() == item.text:
                done.append((item.path, "unchanged"))
                continue
            if not force:
                done.append((item.path, "kept: yours differs (--force replaces it, with a backup)"))
                continue
            backup = item.path.with_name(f"{item.path.name}.bak-{stamp}")
            shutil.copy2(item.path, backup)
            item.path.write_text(item.text)
            done.append((item.path, f"replaced (yours: {backup.name})"))
            continue
        item.path.parent.mkdir(parents=True, exist_ok=True)
        item.path.write_text(item.text)
        done.append((item.path, "created"))
    return done


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def init(
    folder: Annotated[
        Path, typer.Option("--dir", help="Project folder (configs/ and user_data/ go here).")
    ] = Path("."),
    userdir: Annotated[
        Path | None, typer.Option(help="freqtrade user directory (default: <dir>/user_data).")
    ] = None,
    strategy: Annotated[str, typer.Option(help="Strategy class name.")] = "MyStrategy",
    estimator: Annotated[
        str, typer.Option(help="lightgbm, catboost or random_forest.")
    ] = "lightgbm",
    target: Annotated[
        str, typer.Option(help="return (regression), updown or regime (classifiers).")
    ] = ("return"),
    pairs: Annotated[str, typer.Option(help="Comma-separated pairs.")] = "BTC/USDT,ETH/USDT",
    timeframe: Annotated[str, typer.Option(help="Candle timeframe.")] = "1h",
    exchange: Annotated[str, typer.Option(help="Exchange name (freqtrade's).")] = "binance",
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace files that differ (each is backed up first)."),
    ] = False,
) -> None:
    """Create (or complete) a TradAI project: user directory with model shims, a strategy,
    training and inference configs and a retraining policy; then print the next commands."""
    from freqtrade.configuration.directory_operations import create_userdata_dir

    from tradai_strategy.cli.config_builder import (
        build_inference_config,
        build_training_config,
        meta_from_options,
    )

    if not strategy.isidentifier() or not strategy[0].isupper():
        fail(f"--strategy {strategy!r} is not a class name: use e.g. MyStrategy")
    root = folder
    user = userdir if userdir is not None else root / "user_data"
    # paths in the configs: relative to the project folder when inside it (commands run there)
    user_ref = _shown(user, root)
    datadir = f"{user_ref}/data/{exchange}"
    meta = meta_from_options(
        pairs,
        strategy=strategy,
        timeframe=timeframe,
        exchange=exchange,
        estimator=estimator,
        target=target,
        datadir=datadir,
    )
    try:
        create_userdata_dir(str(user), create_dir=True)
    except Exception as err:
        fail(f"--userdir {user}: cannot create it ({err})")
    model_name = f"tradai-{strategy}"
    configs = root / "configs"
    planned = [Planned(user / "freqaimodels" / name, text) for name, text in _shims()] + [
        Planned(
            user / "strategies" / f"{strategy}.py", render_strategy(strategy, timeframe, target)
        ),
        Planned(configs / "train.json", json.dumps(build_training_config(meta), indent=4) + "\n"),
        Planned(
            configs / "inference.json", json.dumps(build_inference_config(meta), indent=4) + "\n"
        ),
        Planned(
            configs / "lifecycle.toml",
            render_policy(model_name, strategy, "configs/train.json", user_ref),
        ),
    ]
    try:
        done = _write(planned, force)
    except OSError as err:
        fail(f"cannot write the project files in {root} ({err})")
    table = Table(title=f"tradai init: {strategy} ({estimator}, {target})", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("", overflow="fold")
    for path, what in done:
        table.add_row(_shown(path, root), what)
    console.print(table)
    common = f"--config configs/train.json --strategy {strategy} --userdir {user_ref}"
    console.print(
        "Next (from the project folder):\n"
        f"  1. freqtrade download-data --config configs/train.json --userdir {user_ref} "
        f"--timerange 20240101-\n"
        f"  2. tradai backtest {common} --timerange 20240501-20240701\n"
        f"  3. tradai train {common}\n"
        f"No exchange access? `tradai data synth --pairs {','.join(meta.pairs)} --days 240 "
        f"--timeframe {timeframe} --signal planted --datadir {datadir}` writes candles, and "
        "`--offline` on 2 and 3 uses generated markets.",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``init`` to the app."""
    app.command("init")(init)

"""The one error root and the one handler of ``tradai``.

Every command (enumerated from the typer app, so a new command must get a case here): bad
input -> exactly one ``error:`` line on stderr, exit 2; an unexpected exception in the code it
calls -> the traceback is shown and the exit status is 1 (a pandas-like ``ValueError`` too:
it is a bug, not bad input).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import tradai_strategy
from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIError

runner = CliRunner()
MISSING = "no-such-file.json"
FT = ["--config", MISSING, "--strategy", "RadStrategy"]  # freqtrade commands: a missing config


@dataclass(frozen=True)
class Case:
    """``bad``: argv with a cheap bad input; ``target``/``reach``: the function (module, attr)
    made to raise and the argv whose command calls it. ``{tmp}`` is the test's tmp_path."""

    bad: list[str]
    target: tuple[str, str]
    reach: list[str]
    setup: Callable[[Path], None] | None = None


def _metrics_file(tmp: Path) -> None:
    from tradai_strategy.data.oos_metrics import METRICS_FILE

    folder = tmp / "models" / "x"
    folder.mkdir(parents=True)
    (folder / METRICS_FILE).write_text("{}")


def _model_dir(tmp: Path) -> None:
    (tmp / "models" / "x").mkdir(parents=True)


_REG = ["--tracking-uri", "bogus://x", "--audit-db", "{tmp}/audit.db"]
_LC = ("tradai_strategy.lifecycle.promotion", "Lifecycle.open")
# a registry command refuses a missing sqlite store before it opens it: reach it elsewhere
_STORE = ["--tracking-uri", "bogus://x"]
_POLICY = ("tradai_strategy.lifecycle.policy", "load_policy")
CASES: dict[str, Case] = {
    "backtest": Case(
        ["backtest", *FT],
        ("tradai_strategy.data.freqtrade_runner", "run_freqtrade"),
        ["backtest"],
    ),
    "demo": Case(
        ["demo", "--signal", "bogus"],
        ("tradai_strategy.cli.demo", "run_demo"),
        ["demo", "--workdir", "{tmp}/demo"],
    ),
    "check-leakage": Case(
        ["check-leakage", *FT],
        ("tradai_strategy.cli.leakage", "freqtrade_args"),
        ["check-leakage"],
    ),
    "validate": Case(
        ["validate", *FT], ("tradai_strategy.cli.validate", "freqtrade_args"), ["validate"]
    ),
    "hyperopt": Case(
        ["hyperopt", *FT], ("tradai_strategy.cli.hyperopt", "freqtrade_args"), ["hyperopt"]
    ),
    "train": Case(["train", *FT], ("tradai_strategy.cli.train", "freqtrade_args"), ["train"]),
    "promote": Case(["promote", "m", "1", *_REG], _LC, ["promote", "m", "1", *_STORE]),
    "rollback": Case(["rollback", "m", *_REG], _LC, ["rollback", "m", *_STORE]),
    "audit": Case(["audit", *_REG], _LC, ["audit", *_STORE]),
    "status": Case(["status", *_REG], _LC, ["status", *_STORE]),
    "retire": Case(["retire", "m", "1", *_REG], _LC, ["retire", "m", "1", *_STORE]),
    "drift": Case(
        ["drift", "--model", "m", *FT],
        ("tradai_strategy.cli.monitor", "freqtrade_args"),
        ["drift", "--model", "m"],
    ),
    "scheduler": Case(
        ["scheduler", "--once", "--policy", "{tmp}/nope.toml"], _POLICY, ["scheduler", "--once"]
    ),
    "report": Case(
        ["report", "--validation-json", "{tmp}/nope.json", "--out", "{tmp}/r.html"],
        ("tradai_strategy.reports.model_report", "build_report"),
        ["report", "--model", "m", "--out", "{tmp}/r.html"],
    ),
    "compare": Case(
        ["compare", "m", "1", "2", "--timerange", "20250101-20250201", *FT],
        ("tradai_strategy.cli.compare", "freqtrade_args"),
        ["compare", "m", "1", "2", "--timerange", "20250101-20250201"],
    ),
    "data synth": Case(
        ["data", "synth", "--timeframe", "7x", "--datadir", "{tmp}/data"],
        ("tradai_strategy.data.synthetic", "write_synthetic_data"),
        ["data", "synth", "--datadir", "{tmp}/data"],
    ),
    "config build": Case(
        ["config", "build", "--out", "{tmp}/file"],
        ("tradai_strategy.cli.config_builder", "write_configs"),
        ["config", "build", "--out", "{tmp}/cfg"],
        setup=lambda tmp: (tmp / "file").write_text("a file where a folder should be"),
    ),
    "init": Case(
        ["init", "--dir", "{tmp}/p", "--strategy", "not a class"],
        ("tradai_strategy.cli.init", "render_strategy"),
        ["init", "--dir", "{tmp}/p"],
    ),
    "replay": Case(
        ["replay", *FT],
        ("tradai_strategy.replay.run", "run_replay"),
        ["replay", "--config", "{tmp}/c.json", "--strategy", "RadStrategy"],
        setup=lambda tmp: (tmp / "c.json").write_text("{}"),
    ),
    "metrics": Case(["metrics", *_REG], _LC, ["metrics", *_STORE]),
    "metrics show": Case(
        ["metrics", "show", "--identifier", "nope", "--userdir", "{tmp}"],
        ("tradai_strategy.reports.metrics_table", "render_metrics"),
        ["metrics", "show", "--identifier", "x", "--userdir", "{tmp}"],
        setup=_metrics_file,
    ),
    "predictions export": Case(
        ["predictions", "export", "--identifier", "nope", "--out", "{tmp}/p.csv"],
        ("tradai_strategy.data.prediction_files", "load_backtest_predictions"),
        [
            "predictions",
            "export",
            "--identifier",
            "x",
            "--out",
            "{tmp}/p.csv",
            "--userdir",
            "{tmp}",
        ],
        setup=_model_dir,
    ),
    "predictions check": Case(
        ["predictions", "check", "{tmp}/nope.csv"],
        ("tradai_strategy.data.prediction_table", "read_predictions"),
        ["predictions", "check", "{tmp}/p.csv"],
    ),
    "bundle build": Case(
        ["bundle", "build", "--identifier", "nope", "--out", "{tmp}/b", "--userdir", "{tmp}"],
        ("tradai_strategy.bundle.format", "bundle_from_model_dir"),
        ["bundle", "build", "--identifier", "x", "--out", "{tmp}/b", "--userdir", "{tmp}"],
    ),
    "bundle register": Case(
        ["bundle", "register", "{tmp}/nope", "--name", "m", "--tracking-uri", "bogus://x"],
        ("tradai_strategy.registry.bundle_registry", "register_bundle"),
        ["bundle", "register", "{tmp}/b", "--name", "m"],
    ),
    "retrain": Case(
        ["retrain", "--check", "--policy", "{tmp}/nope.toml"], _POLICY, ["retrain", "--check"]
    ),
    "retrain simulate": Case(
        [
            "retrain",
            "simulate",
            "--from",
            "2025-01-01",
            "--to",
            "2025-02-01",
            "--policy",
            "{tmp}/n.toml",
        ],
        _POLICY,
        ["retrain", "simulate", "--from", "2025-01-01", "--to", "2025-02-01"],
    ),
}


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every runnable command path of the app (a group that runs without a subcommand too)."""
    subs = getattr(cmd, "commands", None)
    if subs is None:
        yield " ".join(path)
        return
    if path and getattr(cmd, "invoke_without_command", False):
        yield " ".join(path)
    for name, sub in subs.items():
        yield from _commands(sub, (*path, name))


COMMANDS = sorted(_commands(typer.main.get_command(app)))


def _argv(argv: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in argv]


def _run(argv: list[str]) -> Any:
    return runner.invoke(app, argv, catch_exceptions=False)


def test_every_command_has_a_case() -> None:
    assert sorted(CASES) == COMMANDS, "add a Case for each new command (bad input + injection)"


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_input_is_one_line_and_exit_2(command: str, tmp_path: Path) -> None:
    case = CASES[command]
    if case.setup is not None:
        case.setup(tmp_path)
    res = _run(_argv(case.bad, tmp_path))
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert res.exit_code == 2, res.output
    assert len(errors) == 1 and errors == lines[-1:], res.stderr
    assert "Traceback" not in res.output


@pytest.mark.parametrize("exc", [RuntimeError("boom"), ValueError("boom: pandas-like bug")])
@pytest.mark.parametrize("command", COMMANDS)
def test_unexpected_exception_keeps_the_traceback_and_exits_1(
    command: str, exc: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[command]
    if case.setup is not None:
        case.setup(tmp_path)
    module, attr = case.target
    owner: Any = importlib.import_module(module)
    *parents, name = attr.split(".")
    for part in parents:
        owner = getattr(owner, part)
    assert hasattr(owner, name), f"{module}.{attr} is gone: point the case at what it calls"
    calls: list[int] = []

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        calls.append(1)
        raise exc

    monkeypatch.setattr(owner, name, boom)
    res = _run(_argv(case.reach, tmp_path))
    assert calls, f"`tradai {command}` did not reach {module}.{attr}: {res.output}"
    assert res.exit_code == 1, res.output
    assert "Traceback (most recent call last)" in res.stderr
    assert f"{type(exc).__name__}: {exc}" in res.stderr
    assert res.stderr.splitlines()[-1].startswith("error: unexpected")


def _package_exceptions() -> Iterator[type[BaseException]]:
    for info in pkgutil.walk_packages(tradai_strategy.__path__, "tradai_strategy."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                yield obj


def test_every_expected_failure_derives_from_tradai_error() -> None:
    found = set(_package_exceptions())
    # private classes (_Rejected, _Moved) are local control flow, never leave their module
    public = {cls for cls in found if not cls.__name__.startswith("_")}
    assert {"RegistryError", "PolicyError", "LockHeld", "FreqtradeRunError"} <= {
        cls.__name__ for cls in public
    }
    wrong = sorted(f"{c.__module__}.{c.__name__}" for c in public if not issubclass(c, TradAIError))
    assert not wrong, f"not under TradAIError: {wrong}"


def test_handler_exit_codes() -> None:
    from freqtrade.exceptions import OperationalException

    from tradai_strategy.cli.common import handle_error
    from tradai_strategy.cli.demo import DemoStepFailed
    from tradai_strategy.data.freqtrade_runner import FreqtradeRunError

    assert handle_error(TradAIError("bad\n  input")) == 2
    assert handle_error(OperationalException("freqtrade: bad config")) == 2
    assert handle_error(FreqtradeRunError("x", exit_code=1)) == 1
    assert handle_error(DemoStepFailed("`tradai train` exited with status 2")) == 1
    try:
        raise KeyError("bug")
    except KeyError as err:
        assert handle_error(err) == 1

"""The built wheel works without the checkout: a new virtualenv with only the wheel of TradAI,
`tradai init` in an empty folder, then a training backtest, `tradai train` and a
TradAIMLflowModel backtest of the scaffolded strategy.

The new venv borrows the third-party dependencies of the test environment through a path
entry (a ``.pth`` line, which does not run that environment's own ``.pth`` files, so the
checkout's editable install stays invisible): installing freqtrade, CatBoost and MLflow
again from the package index would take minutes and nothing of TradAI's.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wheel")]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{' '.join(args)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADAI_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)],
         tmp, env)  # fmt: skip
    (wheel,) = dist.glob("tradai_strategy-*.whl")
    target = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    (purelib,) = (target / "lib").glob("python3*/site-packages")
    borrowed = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    py = target / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
          str(wheel)], tmp, env)  # fmt: skip
    env["PATH"] = f"{target / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp / "home")  # no state of the developer's machine either
    return target, env


def test_the_wheel_runs_the_lifecycle_from_an_empty_folder(
    wheel_venv: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    target, env = wheel_venv
    tradai = str(target / "bin" / "tradai")
    code = "import tradai_strategy; print(tradai_strategy.__file__)"
    where = _run([str(target / "bin" / "python"), "-c", code], tmp_path, env)
    assert where.strip().startswith(str(target)), where  # the wheel's copy, not the checkout's
    project = tmp_path / "project"
    project.mkdir()
    _run([tradai, "init", "--strategy", "Fresh"], project, env)
    _run([tradai, "data", "synth", "--days", "150", "--signal", "planted",
          "--datadir", "user_data/data/binance"], project, env)  # fmt: skip
    common = ["--strategy", "Fresh", "--userdir", "user_data", "--offline"]
    _run([tradai, "backtest", "--config", "configs/train.json", *common,
          "--timerange", "20240401-20240501"], project, env)  # fmt: skip
    out = _run([tradai, "train", "--config", "configs/train.json", *common,
                "--timerange", "20240301-20240501"], project, env)  # fmt: skip
    assert "registered tradai-Fresh version 1" in " ".join(out.split())
    _run([tradai, "promote", "tradai-Fresh", "1", "--force", "--reason", "wheel test"],
         project, env)  # fmt: skip
    out = _run([tradai, "backtest", "--config", "configs/inference.json", *common,
                "--freqaimodel", "TradAIMLflowModel", "--timerange", "20240501-20240520"],
               project, env)  # fmt: skip
    assert "Fresh" in out and "TRADES" in out.upper()
    # nothing the run wrote or loaded comes from the checkout (its borrowed .venv aside)
    checkout = [str(ROOT / d) for d in ("src", "user_data", "configs", "tests")]
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".toml", ".py", ".log"):
            text = path.read_text(errors="replace")
            assert not any(c in text for c in checkout), path

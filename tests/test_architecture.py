"""The architecture rules of docs/architecture.md, checked on the real source tree.

The import contract itself runs in `make lint` (import-linter, configured in pyproject.toml);
here it is shown to catch what it is for, on a copy of the package with one bad import
added: an upward import hidden inside a function, and a cycle between two sibling files.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tradai_strategy"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _lint_copy(tmp_path: Path, edits: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts on a copy of the package with ``edits``
    (relative path -> text appended)."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "tradai_strategy", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in edits.items():
        with (src / "tradai_strategy" / rel).open("a") as fh:
            fh.write(text)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_contract_holds_on_the_tree_and_catches_an_upward_import_inside_a_function(
    tmp_path: Path,
) -> None:
    ok = _lint_copy(tmp_path / "clean", {})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    upward = "\n\ndef _sneaky() -> None:\n    from tradai_strategy.cli import app  # noqa\n"
    bad = _lint_copy(tmp_path / "upward", {"stats/ic.py": upward})
    assert bad.returncode != 0
    assert "tradai_strategy.stats.ic -> tradai_strategy.cli" in bad.stdout


def test_contract_catches_a_cycle_between_sibling_files(tmp_path: Path) -> None:
    # splitters already imports cv_formulas; the reverse import closes a cycle
    back = "\n\ndef _back() -> None:\n    from tradai_strategy.stats import splitters  # noqa\n"
    bad = _lint_copy(tmp_path, {"stats/cv_formulas.py": back})
    assert bad.returncode != 0
    assert "No cycles are allowed in tradai_strategy.stats" in bad.stdout


def test_no_module_is_over_the_size_limit() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"split these by responsibility (> {MAX_LINES} lines): {big}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_across_modules(path: Path) -> None:
    private = [
        f"{node.module}.{alias.name} (line {node.lineno})"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tradai_strategy")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert not private, f"make these public or move them: {private}"

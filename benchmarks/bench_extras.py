"""Extra `make bench` sections beyond the core model comparison.

Each section is (name, runner, markdown renderer) in its own module; a section whose module
or data is missing is skipped with a note, and one that fails is reported as failed, so one
section never hides the others.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: name -> (module, runner function, markdown function); runners take (datadir, workdir)
SECTIONS: dict[str, tuple[str, str, str]] = {
    "lookahead": ("bench_lookahead", "run_lookahead_bench", "lookahead_markdown"),
    "cpcv": ("bench_cpcv", "run_cpcv_bench", "markdown_section"),
    "inference": ("bench_inference", "run_inference_bench", "render_markdown"),
    "hyperopt": ("bench_hyperopt", "run_hyperopt_bench", "render_markdown"),
    "drift": ("bench_drift", "run_drift_bench", "render_markdown"),
    # issue 15: live IC calibration and trigger rates, a pure simulation
    "live_ic": ("bench_live_ic", "run_live_ic_bench", "render_markdown"),
    # issue 19: parallel training, wall time and peak memory with 1 and 2 workers
    "parallel": ("bench_parallel", "run_parallel_bench", "render_markdown"),
    # issue 17: a month of paper-trade replay with 2 and 4 pairs, trades vs a backtest's
    "replay": ("bench_replay", "run_replay_bench", "render_markdown"),
}


def run_sections(
    names: list[str], datadir: Path, workdir: Path, log: Callable[[str], None]
) -> list[str]:
    """Run the named sections; returns their markdown (or a line saying why not)."""
    out: list[str] = []
    for name in names:
        module_name, runner_name, md_name = SECTIONS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            out.append(f"\n## {name}\n\nnot run: {module_name}.py is not there yet\n")
            continue
        runner: Callable[..., dict[str, Any]] = getattr(module, runner_name)
        render: Callable[[dict[str, Any]], str] = getattr(module, md_name)
        log(f"bench section: {name} ...")
        try:
            result = runner(datadir, workdir / name)
        except Exception as exc:  # one failing section must not hide the others
            log(f"bench section {name} failed: {exc}")
            out.append(f"\n## {name}\n\nFAILED: {exc}\n\n```\n{traceback.format_exc()}```\n")
            continue
        section = render(result)
        log(section)
        out.append("\n" + section)
    return out

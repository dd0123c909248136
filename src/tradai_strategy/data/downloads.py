"""The ``freqtrade download-data`` command line that fetches given candle files.

Shared by the pre-flight checks: a missing file (:mod:`~tradai_strategy.data.preflight`) and a
corrupt or gappy one (:mod:`~tradai_strategy.data.candle_check`) are both fixed by it.
"""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["download_command"]


def download_command(
    config: dict[str, Any],
    pairs: list[str],
    timeframes: list[str],
    timerange: str | None = None,
    *,
    erase: bool = False,
) -> str:
    """The ``freqtrade download-data`` command line fetching ``pairs`` x ``timeframes``.

    :param erase: add ``--erase`` (delete the existing files first: the way to replace a
        corrupt file, or one with holes, since download-data only appends to a file).
    """
    argv = ["freqtrade", "download-data", "--exchange", str(config["exchange"]["name"])]
    argv += ["--pairs", *pairs, "--timeframes", *timeframes]
    if timerange:
        argv += ["--timerange", timerange]
    mode = str(config.get("trading_mode") or "spot")
    if mode != "spot":
        argv += ["--trading-mode", mode]
    fmt = str(config.get("dataformat_ohlcv") or "feather")
    if fmt != "feather":
        argv += ["--data-format-ohlcv", fmt]
    if erase:
        argv.append("--erase")
    argv += ["--datadir", str(config["datadir"])]
    return shlex.join(argv)

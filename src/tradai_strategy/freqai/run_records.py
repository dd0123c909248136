"""No credentials in the records freqtrade/FreqAI write of a run with a TradAI model.

FreqAI copies the whole ``freqai`` block into ``<model folder>/run_params.json`` and a
backtest copies the bot's config into its result zip (``*_config.json``, from
``config["original_config"]``): a ``freqai.tradai.tracking_uri`` such as
``http://user:password@host`` would be written to disk in clear. :func:`redact_run_records`
masks the password in both (:mod:`tradai_strategy.core.redact`) and turns on log redaction
for the process; the config the model connects with is left as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradai_strategy.core.redact import redact_log_records, redact_obj, redact_text

RUN_PARAMS = "run_params.json"


def redact_run_records(config: dict[str, Any], model_dir: str | Path) -> None:
    """Mask credentials in ``model_dir/run_params.json`` (already written by FreqAI) and in
    ``config["original_config"]`` (the copy a backtest exports); log records from now on."""
    redact_log_records()
    original = config.get("original_config")
    if isinstance(original, dict):
        config["original_config"] = redact_obj(original)
    path = Path(model_dir) / RUN_PARAMS
    if path.is_file():
        text = path.read_text()
        clean = redact_text(text)
        if clean != text:
            path.write_text(clean)

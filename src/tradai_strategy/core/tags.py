"""Every ``tradai.*`` key TradAI writes on MLflow model versions, runs and Optuna studies.

Spelled once here; the registry, the gate, promotion, status, reports and the retrain job
read and write them through these names.
"""

from __future__ import annotations

#: common prefix of every TradAI tag
PREFIX = "tradai."

# ---- a registered version: what it was trained on (lifecycle.train) ---------------------
STRATEGY = "tradai.strategy"
PAIRS = "tradai.pairs"
TIMEFRAME = "tradai.timeframe"
DATA_RANGE = "tradai.data_range"
CONFIG_HASH = "tradai.config_hash"
GIT_COMMIT = "tradai.git_commit"
IDENTIFIER = "tradai.identifier"
#: the training's own FreqAI identifier (``<identifier>-<UTC time>``: its models folder)
FREQAI_IDENTIFIER = "tradai.freqai_identifier"
FEATURE_LIST_HASH = "tradai.feature_list_hash"
#: "skipped" when `tradai train --skip-leakage-check` ran (a validate run: "ok"/"skipped")
LEAKAGE_CHECK = "tradai.leakage_check"
#: sha256 of the bundle manifest, checked before a version is served; a version without it
#: is never served or promoted
MANIFEST = "tradai.manifest_sha256"
#: sha256 of the MLflow model folder's file list (``tradai_model_files.json``: MLmodel, the
#: environment files, the bundle), checked before anything of the folder is used
MODEL_FILES = "tradai.model_files_sha256"
#: ``incomplete``: set by reconcile on a version whose registration never finished
STATE = "tradai.state"
#: per pair: ``tradai.train_end.<pair>`` = the last training candle (ISO time)
TRAIN_END_PREFIX = "tradai.train_end."
#: the error level of the model on its own out-of-sample rows (error-drift baseline)
BASELINE_MAE = "tradai.baseline_mae"
#: the label horizon (label_period_candles) the version was trained and is scored at
LABEL_HORIZON = "tradai.label_period_candles"
#: the version's validated IC in the live statistic (cross-sectional, out of sample) and its
#: overlap-aware s.e.: the level the retrain rule tests the live IC against
REFERENCE_IC = "tradai.reference_ic"
REFERENCE_IC_SE = "tradai.reference_ic_se"

# ---- the validation gate (lifecycle.gate, validation.tracking) --------------------------
VALIDATION_STATUS = "tradai.validation_status"
VALIDATION_REASONS = "tradai.validation_reasons"
VALIDATION_RUN_ID = "tradai.validation_run_id"
#: on a validate run: "pass" / "fail"
VERDICT = "tradai.verdict"
#: on a validate run: the command that made it
COMMAND = "tradai.command"
#: on a validate run: the model it validated
MODEL_NAME = "tradai.model_name"
MODEL_VERSION = "tradai.model_version"
#: on a validate split's child run
SPLIT = "tradai.split"

# ---- promotion and retirement (registry.client, lifecycle.promotion) --------------------
RETIRED = "tradai.retired"
RETIRED_REASON = "tradai.retired_reason"
RETIRED_AT = "tradai.retired_at"
RETIRED_BY = "tradai.retired_by"

# ---- crash safety of registration (registry.bundle_registry, registry.repair) ------------
#: on a bundle run: ``<host> <pid> <process start time>`` of the process registering it
OWNER = "tradai.owner"
#: on a bundle run: the local bundle folder it registers (named when the registration died)
BUNDLE_PATH = "tradai.bundle_path"
#: on a run or version reconcile repaired: what it found and did
RECONCILED = "tradai.reconciled"
#: on a registered model of a tracking server: ``<host>:<path>`` of its audit trail
AUDIT_TRAIL = "tradai.audit_trail"

# ---- the retrain job and monitoring (lifecycle.retrain*, lifecycle.status) ---------------
#: why a version was trained by the retrain job
TRIGGER = "tradai.trigger"
MONITOR_ROLLING_IC = "tradai.monitor.rolling_ic"
MONITOR_ROLLING_IC_SE = "tradai.monitor.rolling_ic_se"
MONITOR_DRIFT_RATIO = "tradai.monitor.drift_ratio"

# ---- hyperopt (hyperopt.tracking, hyperopt.storage) -------------------------------------
#: on a hyperopt run: "hyperopt"
KIND = "tradai.kind"
#: an Optuna study user attribute ``tradai.stale.<trial number>``
STALE_PREFIX = "tradai.stale."

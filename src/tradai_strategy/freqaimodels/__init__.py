"""The ``--freqaimodel`` shims: one file per model class, *defined* at top level so that
freqtrade's resolver finds it (a re-export is not found).

freqtrade is pointed here with ``--freqaimodel-path`` (:func:`tradai_strategy.core.paths.
freqaimodels_path`), so ``tradai train``, the retrain job and the scheduler find our models
from any folder and from an installed wheel; the checkout's ``user_data/freqaimodels/*.py``
are links to these files. Nothing in the package imports this folder.
"""

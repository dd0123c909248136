"""Optuna hyperparameter optimisation of the FreqAI models (``tradai hyperopt``)."""

"""Estimator factories (LightGBM, CatBoost) and single fits, without FreqAI."""

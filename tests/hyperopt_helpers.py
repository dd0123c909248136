"""Small hyperopt settings shared by the hyperopt tests."""

PAIRS = ["BTC/USDT"]
#: small trees keep a trial ~0.15 s (3 splits x 1 pair)
SMALL = {"params": {"n_estimators": {"type": "int", "low": 50, "high": 200}}}

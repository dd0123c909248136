"""Model monitoring: the prediction log, drift checks of served bundles and alerts."""

"""Model monitoring: feature drift (KS, PSI), IC decay, error drift and the prediction log."""

from __future__ import annotations


class MonitoringError(ValueError):
    """Monitoring input cannot be used; the one-line message names what and the fix."""


__all__ = ["MonitoringError"]

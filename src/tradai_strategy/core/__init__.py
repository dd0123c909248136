"""Foundations every layer may use: one error root, tag keys, labels, settings, paths, logging."""

"""Serving: registry loader, alias watcher, prediction sources and the live prediction log."""

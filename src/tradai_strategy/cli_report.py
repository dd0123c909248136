"""``tradai report`` (HTML reports issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``tradai`` app (filled in by its issue's work)."""

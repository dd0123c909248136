"""What every `tradai` command module shares: consoles and the one-line error exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print ``error: <msg>`` on stderr and exit with ``code`` (2: bad input)."""
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)

"""Commands of the population package."""

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""

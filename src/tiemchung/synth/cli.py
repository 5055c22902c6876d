"""Commands of the synth package."""

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""

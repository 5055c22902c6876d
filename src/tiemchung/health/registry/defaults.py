"""Defaults that command-line modules need at import time, kept free of SQLAlchemy so that `--help` is instant."""

from typing import Annotated

import typer

DEFAULT_DATABASE_URL = "sqlite:///var/tiemchung.sqlite"

# The registry database, for every command that reads or writes it (one definition: one name, one variable).
DatabaseOption = Annotated[
    str, typer.Option("--database", envvar="TIEMCHUNG_DATABASE_URL", help="URL cơ sở dữ liệu sổ tiêm (SQLAlchemy).")
]

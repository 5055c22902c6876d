"""Defaults that command-line modules need at import time, kept free of SQLAlchemy so that `--help` is instant."""

DEFAULT_DATABASE_URL = "sqlite:///var/tiemchung.sqlite"

"""A report command on a brand-new database gives it the schema through Alembic, so later upgrades still apply."""

from pathlib import Path

from sqlalchemy import inspect
from typer.testing import CliRunner

from tiemchung.cli import app
from tiemchung.health.registry.db import make_engine


def test_a_report_on_a_new_database_leaves_it_under_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    runner = CliRunner()

    report = runner.invoke(app, ["report", "verification", "--database", url])
    upgrade = runner.invoke(app, ["db", "upgrade", "--database", url])

    assert report.exit_code == 0, report.output
    assert upgrade.exit_code == 0, upgrade.output
    engine = make_engine(url)
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()

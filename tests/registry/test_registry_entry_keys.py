"""Pruning the idempotency keys of dose entries: old keys go, in chunks; younger keys and every dose stay.

The consequence for a retry with a pruned key (a new dose) is checked through the API in
`tests/web/test_web_dose_idempotency.py`.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
import typer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tiemchung.health.registry import cli
from tiemchung.health.registry.db import make_session_factory
from tiemchung.health.registry.entry_keys import prune_entry_keys
from tiemchung.health.registry.models import Dose, DoseEntryKey, Facility, Role, Subject, User

app = typer.Typer()
cli.register(app)
runner = CliRunner()
NOW = datetime.now(UTC)
SERVER_CLOCK = None  # a key whose created_at the database sets (its default), as the web's keys get it


def _keys(engine: Engine, ages: dict[str, float | None]) -> None:
    """One dose per key, each key created `age` days before NOW (None: by the database's default, now)."""
    with make_session_factory(engine).begin() as session:
        session.add(Facility(code="F1", name="Cơ sở 1", province_code="01", ward_code="00001"))
        subject = Subject(subject_key="F1-1", full_name_raw="An", full_name="An", name_canonical="an",
                          name_folded="an", birth_date="1990-05-17", province_code="01")  # fmt: skip
        user = User(username="f1", full_name="Cơ sở 1", password_hash="-", role=Role.FACILITY, facility_code="F1")
        session.add_all([subject, user])
        session.flush()
        for number, (key, age) in enumerate(ages.items(), start=1):
            dose = Dose(record_id=f"R{number}", subject_id=subject.id, vaccine="Pfizer", dose_kind="1",
                        vaccination_date=date(2022, 1, number), facility_code="F1")  # fmt: skip
            session.add(dose)
            session.flush()
            created = {} if age is None else {"created_at": NOW - timedelta(days=age)}
            session.add(DoseEntryKey(user_id=user.id, key=key, request_sha256="ab" * 32, dose_id=dose.id, **created))


def _stored(engine: Engine) -> tuple[set[str], int]:
    with make_session_factory(engine)() as session:
        keys = set(session.scalars(select(DoseEntryKey.key)))
        return keys, session.scalar(select(func.count()).select_from(Dose)) or 0


def test_keys_older_than_the_cutoff_go_in_chunks_younger_keys_and_every_dose_stay(engine: Engine) -> None:
    _keys(engine, {"k-400": 400, "k-40": 40, "k-31": 31, "k-29": 29, "k-1": 1, "k-now": SERVER_CLOCK})

    calls: list[tuple[int, int | None]] = []
    result = prune_entry_keys(engine, days=30, now=NOW, chunk_rows=2, progress=lambda *done: calls.append(done))

    assert (result.deleted, result.kept, result.chunks) == (3, 3, 2)
    assert result.cutoff == NOW - timedelta(days=30)
    assert calls == [(2, 3), (3, 3)]
    assert _stored(engine) == ({"k-29", "k-1", "k-now"}, 6)
    # Nothing left to prune: a second run deletes nothing.
    assert prune_entry_keys(engine, days=30, now=NOW, chunk_rows=2).deleted == 0
    # The database's own timestamps compare right with the cutoff (SQLite keeps them as text without a zone).
    later = prune_entry_keys(engine, days=30, now=NOW + timedelta(days=30, hours=1))
    assert (later.deleted, later.kept) == (3, 0)
    assert _stored(engine) == (set(), 6)


def test_a_cutoff_younger_than_a_day_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        prune_entry_keys(engine, days=0)


def test_the_command_prunes_and_says_what_went(engine: Engine) -> None:
    _keys(engine, {"old": 31, "young": 2})
    url = engine.url.render_as_string(hide_password=False)

    result = runner.invoke(app, ["db", "prune-entry-keys", "--database", url], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "đã xóa" in result.output and "Khóa còn giữ" in result.output
    assert _stored(engine) == ({"young"}, 2)
    refused = runner.invoke(app, ["db", "prune-entry-keys", "--days", "0", "--database", url])
    assert refused.exit_code == 2
    assert _stored(engine) == ({"young"}, 2)

"""Back up and restore the registry: nothing lost, on both engines, and across engines."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tiemchung.health.registry import audit
from tiemchung.health.registry.backup import BackupError, backup, restore, verify
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Dose, DoseEntryKey, Facility, Role, Subject, User


def _fill(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        session.add(Facility(code="F1", name="Trạm Y tế phường Phúc Xá", province_code="01", ward_code="00001"))
        subject = Subject(
            subject_key="F1-1",
            full_name_raw="Nguyễn Văn An",
            full_name="Nguyễn Văn An",
            name_canonical="nguyễn văn an",
            name_folded="nguyen van an",
            birth_date="1990-05-17",
            birth_year=1990,
            sex="M",
            identity_findings=[{"code": "id.leading_zeros_restored"}],
        )
        session.add(subject)
        user = User(username="f1", full_name="Cơ sở 1", password_hash="-", role=Role.FACILITY, facility_code="F1")
        session.add(user)
        session.flush()
        dose = Dose(
            record_id="R1",
            subject_id=subject.id,
            vaccine="AstraZeneca",
            vaccination_date=date(2021, 8, 1),
            dose_kind="1",
            facility_code="F1",
        )
        session.add(dose)
        session.flush()
        # The dose was entered with an idempotency key: a retry after the restore must still find it.
        session.add(DoseEntryKey(user_id=user.id, key="7f1c-uuid", request_sha256="ab" * 32, dose_id=dose.id))
        audit.record(session, actor="admin", action="create", entity="subject", entity_id=subject.id)


def test_backup_then_restore_keeps_every_row(engine: Engine, tmp_path: Path) -> None:
    _fill(engine)
    written = backup(engine, tmp_path / "backup")
    target = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    create_schema(target)

    restored = restore(target, tmp_path / "backup")

    assert restored == written
    rows = {check.table: check.rows for check in restored}
    assert rows["doses"] == rows["dose_entry_keys"] == 1


def test_restore_refuses_a_tampered_backup(engine: Engine, tmp_path: Path) -> None:
    _fill(engine)
    backup(engine, tmp_path / "backup")
    manifest = tmp_path / "backup" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"rows": 1', '"rows": 2', 1))
    target = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    create_schema(target)

    with pytest.raises(BackupError, match="không khớp"):
        restore(target, tmp_path / "backup")


def test_restore_refuses_a_database_that_is_not_empty(engine: Engine, tmp_path: Path) -> None:
    _fill(engine)
    backup(engine, tmp_path / "backup")

    with pytest.raises(BackupError, match="đã có dữ liệu"):
        restore(engine, tmp_path / "backup")
    assert verify(engine)


def test_backup_and_restore_commands(engine: Engine, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tiemchung.cli import app

    _fill(engine)
    source_url = engine.url.render_as_string(hide_password=False)
    target_url = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    runner = CliRunner()

    saved = runner.invoke(app, ["db", "backup", str(tmp_path / "b"), "--database", source_url])
    restored = runner.invoke(app, ["db", "restore", str(tmp_path / "b"), "--database", target_url])
    again = runner.invoke(app, ["db", "restore", str(tmp_path / "b"), "--database", target_url])

    assert saved.exit_code == 0, saved.output
    assert restored.exit_code == 0, restored.output
    assert "Đã khôi phục và kiểm tra" in restored.output
    assert again.exit_code == 1
    assert "đã có dữ liệu" in again.output

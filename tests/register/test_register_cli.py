"""The `tiemchung register` commands end to end: keys, then the health side's drain and verify-all against a real
service process and a SQLite registry."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from tiemchung.cli import register_group
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory, transaction
from tiemchung.health.registry.models import Subject
from tiemchung.health.verification.cli import API_KEY_ENV
from tiemchung.health.verification.models import VerificationRequest
from tiemchung.health.verification.queue import enqueue
from tiemchung.register.keys import KeyStore
from tiemchung.register.process import ServiceProcess, free_port
from tiemchung.register.sample import SAMPLE_SUBJECTS

runner = CliRunner()


def test_keys_add_list_revoke(tmp_path: Path) -> None:
    added = runner.invoke(register_group, ["keys", "add", "--caller", "Sở Y tế Đà Nẵng", "--workdir", str(tmp_path)])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    caller = KeyStore(tmp_path / "keys.json").authenticate(key)
    assert caller is not None and caller.name == "Sở Y tế Đà Nẵng"
    listed = runner.invoke(register_group, ["keys", "list", "--workdir", str(tmp_path)])
    assert caller.key_id in listed.stdout and key not in listed.stdout and "đang dùng" in listed.stdout
    assert runner.invoke(register_group, ["keys", "revoke", caller.key_id, "--workdir", str(tmp_path)]).exit_code == 0
    assert KeyStore(tmp_path / "keys.json").authenticate(key) is None
    assert runner.invoke(register_group, ["keys", "revoke", "nope", "--workdir", str(tmp_path)]).exit_code == 1


def _registry_with_queued_subjects(url: str) -> None:
    engine = make_engine(url)
    create_schema(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        for query, _ in SAMPLE_SUBJECTS:
            session.add(
                Subject(
                    subject_key=query.subject_id,
                    full_name_raw=query.full_name,
                    full_name=query.full_name,
                    name_canonical=query.full_name.lower(),
                    name_folded=query.full_name.lower(),
                    birth_date=query.birth_date,
                    sex=query.sex,
                    id_number=query.id_number,
                    passport_number=query.passport_number,
                    nationality=query.nationality or "VN",
                )
            )
        session.flush()
        enqueue(session, session.scalars(select(Subject.id)).all(), reason="import")
    engine.dispose()


@pytest.mark.slow
def _backoff_elapsed(url: str) -> None:
    """The request that met the outage waits out a backoff before its next try: let that time pass, so the test
    does not depend on how fast the service below starts."""
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        session.execute(update(VerificationRequest).values(next_attempt_at=datetime.now(UTC) - timedelta(minutes=1)))
    engine.dispose()


def test_drain_and_verify_all_commands(tmp_path: Path, sample_files: tuple[Path, Path]) -> None:
    database = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    _registry_with_queued_subjects(database)
    workdir = tmp_path / "register-workdir"
    env = {API_KEY_ENV: KeyStore(workdir / "keys.json").add("Bộ Y tế")}

    down = runner.invoke(
        register_group, ["drain", "--database", database, "--url", f"http://127.0.0.1:{free_port()}"], env=env
    )
    assert down.exit_code == 2 and "chưa phản hồi" in down.output
    _backoff_elapsed(database)

    with ServiceProcess(sample_files[0], workdir) as service:
        drained = runner.invoke(register_group, ["drain", "--database", database, "--url", service.base_url], env=env)
        assert drained.exit_code == 0, drained.output
        assert f"có kết quả {len(SAMPLE_SUBJECTS)}" in drained.output
        batch = runner.invoke(
            register_group,
            [
                "verify-all",
                "--all",
                "--database",
                database,
                "--url",
                service.base_url,
                "--workdir",
                str(tmp_path / "b"),
            ],
            env=env,
        )
        assert batch.exit_code == 0, batch.output
        assert f"cập nhật {len(SAMPLE_SUBJECTS)}" in batch.output

    expected = {query.subject_id: category.value for query, category in SAMPLE_SUBJECTS}
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        found = {s.subject_key: s.verification_category for s in session.scalars(select(Subject))}
    engine.dispose()
    assert found == expected
    no_key = runner.invoke(register_group, ["drain", "--database", database], env={API_KEY_ENV: ""})
    assert no_key.exit_code != 0


def test_verify_all_against_a_dead_register_says_so_in_vietnamese(tmp_path: Path) -> None:
    """Issue 16 item 14: the command ended with a 66-line traceback when the register died."""
    database = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    _registry_with_queued_subjects(database)
    arguments = ["verify-all", "--database", database, "--url", f"http://127.0.0.1:{free_port()}"]
    result = runner.invoke(register_group, [*arguments, "--workdir", str(tmp_path / "b")], env={API_KEY_ENV: "tcr_x.y"})
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), "a message, not an exception"
    assert "Xác minh theo lô dừng lại: CSDL dân cư không phản hồi" in result.output
    assert "chạy lại đúng lệnh này" in result.output

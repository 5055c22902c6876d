"""The `tiemchung cert` commands end to end on a SQLite registry: keys, daily signing, issuance, PDF, QR, verify."""

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tiemchung.cli import app
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory, transaction
from tiemchung.health.registry.models import Dose, Facility, Subject

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    with transaction(make_session_factory(engine)) as session:
        session.add(Facility(code="F9", name="Bệnh viện Bạch Mai", province_code="01"))
        subject = Subject(
            subject_key="S1",
            full_name_raw="Trần Văn Ánh",
            full_name="Trần Văn Ánh",
            name_canonical="tran van anh",
            name_folded="tran van anh",
            birth_date="1985-02-03",
            birth_year=1985,
            sex="M",
            id_number="001085001234",
            verification_category="VERIFIED",
        )
        session.add(subject)
        session.flush()
        session.add(Dose(record_id="R1", subject_id=subject.id, vaccine="Moderna", vaccination_date=date(2022, 3, 1),
                         dose_kind="1", facility_code="F9"))  # fmt: skip
        session.add(Dose(record_id="R2", subject_id=subject.id, vaccine="Moderna", vaccination_date=date(2022, 4, 1),
                         dose_kind="2", facility_code="F9"))  # fmt: skip
    engine.dispose()
    return url


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_whole_certificate_workflow_from_the_command_line(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEMCHUNG_KEY_PASSPHRASE", "mot-mat-khau-dai")
    keys = tmp_path / "keys"
    monkeypatch.setenv("TIEMCHUNG_KEYS_DIR", str(keys))  # the web's variable: one layout for both
    assert "Đã tạo khóa" in _run("cert", "keys", "init")
    dsc_key = (keys / "certificates" / "dsc.key.pem").read_text()
    assert "ENCRYPTED" in dsc_key
    facility_passphrase = tmp_path / "facility-passphrase"
    facility_passphrase.write_text("mat-khau-cua-co-so")
    _run("cert", "keys", "facility", "--code", "F9", "--database", database,
         "--facility-passphrase-file", str(facility_passphrase))  # fmt: skip
    assert "ENCRYPTED" in (keys / "facilities" / "F9.key.pem").read_text()
    assert "2" in _run("cert", "unsigned", "--database", database)
    wrong = runner.invoke(app, ["cert", "sign-day", "--facility", "F9", "--day", "2022-03-01",
                                "--database", database], input="mat-khau-sai-roi\n")  # fmt: skip
    assert wrong.exit_code == 1 and "Sai mật khẩu khóa ký của cơ sở" in wrong.output
    for day in ("2022-03-01", "2022-04-01"):
        _run("cert", "sign-day", "--facility", "F9", "--day", day, "--database", database,
             "--facility-passphrase-file", str(facility_passphrase))  # fmt: skip
    assert "Không có mũi tiêm nào chưa ký" in _run("cert", "unsigned", "--database", database)
    assert "Đã cấp/có sẵn: 1 chứng nhận; không cấp: 1 mũi" in _run("cert", "issue", "--database", database)

    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        uvci = session.scalars(select(Certificate.uvci)).one()
    engine.dispose()
    pdf, png = tmp_path / "c.pdf", tmp_path / "c.png"
    shown = _run("cert", "show", uvci, "--database", database, "--pdf", str(pdf), "--png", str(png))
    assert "Trần Văn Ánh" in shown and "••••••••1234" in shown and "2/2" in shown
    assert pdf.read_bytes().startswith(b"%PDF") and png.read_bytes().startswith(b"\x89PNG")
    trust = str(keys / "certificates" / "trustlist.json")
    empty_list = tmp_path / "nothing-revoked.json"
    _run("cert", "revocation-list", "--out", str(empty_list), "--database", database)
    valid = ("cert", "verify", "--trust-list", trust, "--image", str(png), "--revocations", str(empty_list))
    assert "HỢP LỆ" in _run(*valid)
    assert "DSC mới" in _run("cert", "keys", "rotate")
    assert "HỢP LỆ" in _run(*valid)  # the old DSC stays trusted

    _run("cert", "revoke", uvci, "--reason", "Mũi tiêm trùng lặp", "--database", database)
    revoked = tmp_path / "revoked.json"
    _run("cert", "revocation-list", "--out", str(revoked), "--database", database)
    assert len(json.loads(revoked.read_text())["hashes"]) == 3
    refused = runner.invoke(
        app, ["cert", "verify", "--trust-list", trust, "--image", str(png), "--revocations", str(revoked)]
    )
    assert refused.exit_code == 1 and "Chứng nhận đã bị thu hồi." in refused.output


def test_verify_without_a_revocation_list_never_says_valid_outright(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 14: a revoked certificate checked without --revocations printed "HỢP LỆ"."""
    monkeypatch.setenv("TIEMCHUNG_KEY_PASSPHRASE", "mot-mat-khau-dai")
    keys = tmp_path / "keys"
    _run("cert", "keys", "init", "--keys-dir", str(keys))
    passphrase = tmp_path / "facility-passphrase"
    passphrase.write_text("mat-khau-cua-co-so")
    options = ("--database", database, "--keys-dir", str(keys))
    _run("cert", "keys", "facility", "--code", "F9", *options, "--facility-passphrase-file", str(passphrase))
    for day in ("2022-03-01", "2022-04-01"):
        _run("cert", "sign-day", "--facility", "F9", "--day", day, *options,
             "--facility-passphrase-file", str(passphrase))  # fmt: skip
    _run("cert", "issue", *options)
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        hc1, uvci = session.execute(select(Certificate.hc1, Certificate.uvci)).one()
    engine.dispose()
    _run("cert", "revoke", uvci, "--reason", "Mũi tiêm trùng lặp", "--database", database)

    output = _run("cert", "verify", hc1, "--trust-list", str(keys / "certificates" / "trustlist.json"))
    last_line = output.strip().splitlines()[-1]
    assert "CHƯA KIỂM TRA THU HỒI" in output and not last_line.startswith("HỢP LỆ")


def test_keys_refuse_a_directory_inside_a_git_work_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEMCHUNG_KEY_PASSPHRASE", "mot-mat-khau-dai")
    inside = Path(__file__).resolve().parent / "keys-must-not-be-here"
    result = runner.invoke(app, ["cert", "keys", "init", "--keys-dir", str(inside)])
    assert result.exit_code == 1 and "nằm trong kho mã nguồn" in result.output
    assert not inside.exists()


def test_keys_need_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIEMCHUNG_KEY_PASSPHRASE", raising=False)
    result = runner.invoke(app, ["cert", "keys", "init", "--keys-dir", str(tmp_path / "k")])
    assert result.exit_code == 1 and "TIEMCHUNG_KEY_PASSPHRASE" in result.output

"""Fixtures of the certificates tests: a key set made by the real `init_keys`, and registry rows to certify."""

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from tiemchung.health.certificates.keys import DocumentSigner, TrustList, init_keys
from tiemchung.health.certificates.signing import new_facility_key, public_key_pem, sign_facility_day
from tiemchung.health.registry.models import Dose, Facility, Subject

PASSPHRASE = b"correct horse battery staple"
FACILITY = "F001"
KEYS_CREATED = datetime(2021, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "vn"


@pytest.fixture(scope="session")
def signer(keys_dir: Path) -> DocumentSigner:
    # Keys dated like the campaign, so that certificates issued "in 2021" fall inside the DSC's validity.
    return init_keys(keys_dir, PASSPHRASE, now=KEYS_CREATED)


@pytest.fixture(scope="session")
def trust_list(signer: DocumentSigner) -> TrustList:
    return TrustList.of_certificates([signer.certificate])


@pytest.fixture(scope="session")
def facility_key() -> ec.EllipticCurvePrivateKey:
    return new_facility_key()


@pytest.fixture
def facility(session: Session, facility_key: ec.EllipticCurvePrivateKey) -> Facility:
    row = Facility(
        code=FACILITY, name="Trạm Y tế phường Kim Mã", province_code="01", public_key_pem=public_key_pem(facility_key)
    )
    session.add(row)
    session.flush()
    return row


_counter = itertools.count(1)


@pytest.fixture
def make_subject(session: Session) -> Callable[..., Subject]:
    def make(
        full_name: str = "Nguyễn Thị Đào",
        *,
        category: str | None = "VERIFIED",
        id_number: str | None = "001190012345",
        nationality: str = "VN",
        passport_number: str | None = None,
        birth_date: str = "1990-05-20",
    ) -> Subject:
        number = next(_counter)
        subject = Subject(
            subject_key=f"S{number:06d}",
            facility_code=FACILITY,
            full_name_raw=full_name,
            full_name=full_name,
            name_canonical=full_name.lower(),
            name_folded=full_name.lower(),
            birth_date=birth_date,
            birth_year=int(birth_date[:4]),
            sex="F",
            id_number=id_number,
            id_kind="cccd" if id_number else "none",
            nationality=nationality,
            passport_number=passport_number,
            verification_category=category,
        )
        session.add(subject)
        session.flush()
        return subject

    return make


@pytest.fixture
def make_dose(session: Session) -> Callable[..., Dose]:
    def make(subject: Subject, day: date, *, vaccine: str = "Janssen", kind: str = "1") -> Dose:
        dose = Dose(
            record_id=f"R{next(_counter):06d}",
            subject_id=subject.id,
            vaccine=vaccine,
            lot_number="AB1234",
            vaccination_date=day,
            dose_kind=kind,
            facility_code=FACILITY,
        )
        session.add(dose)
        session.flush()
        return dose

    return make


@pytest.fixture
def sign_day(session: Session, facility: Facility, facility_key: ec.EllipticCurvePrivateKey) -> Callable[[date], None]:
    def sign(day: date) -> None:
        result = sign_facility_day(session, facility.code, day, facility_key, signer="nhanvien01")
        assert result.ok, result.reason_vi

    return sign

"""The facilities' daily signatures over the doses they entered ("hoàn thành nhập dữ liệu và ký số trong ngày").

Each dose gets its own signature over its canonical data (so a later edit of one dose is detectable alone),
and the day gets one signature over the manifest of those doses. The facility's private key stays with the
facility; the registry holds only its public key (`Facility.public_key_pem`), which the signature must match.
"""

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.orm import Session

from tiemchung.health.certificates.keys import KeyLayout, KeyMaterialError, encrypted_pem
from tiemchung.health.certificates.models import DailySignature
from tiemchung.health.duplicates.models import SubjectMerge
from tiemchung.health.registry.models import Dose, Facility, Subject


def new_facility_key() -> ec.EllipticCurvePrivateKey:
    """A facility signing key: ECDSA P-256 (what the national digital signature tokens also use)."""
    return ec.generate_private_key(ec.SECP256R1())


MIN_FACILITY_PASSPHRASE = 10


def write_facility_key(
    layout: KeyLayout, facility_code: str, key: ec.EllipticCurvePrivateKey, passphrase: bytes
) -> Path:
    """Store the facility's key encrypted with the facility's own passphrase (never the central one), mode 0600.

    The key file may sit on the server: without the passphrase, which only the facility's staff know and type when
    they sign, it is useless. Replacing a key is allowed (a lost passphrase means a new key); the registered
    public key must then be replaced too, which the caller does in the same step.
    """
    if len(passphrase) < MIN_FACILITY_PASSPHRASE:
        raise KeyMaterialError(f"Mật khẩu khóa của cơ sở phải có ít nhất {MIN_FACILITY_PASSPHRASE} ký tự.")
    path = layout.facility_key(facility_code)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(encrypted_pem(key, _stretched(passphrase, facility_code)))
    temporary.replace(path)
    return path


def _stretched(passphrase: bytes, facility_code: str) -> bytes:
    """The passphrase through scrypt before it encrypts the PKCS#8 file.

    `cryptography`'s PKCS#8 encryption uses few PBKDF2 rounds (a guess costs 0.3 ms); with scrypt (2^14, r=8) a
    guess at a stolen key file costs ~0.1 s and 16 MiB. The facility code salts it, so no table serves two facilities.
    """
    salt = f"tiemchung-facility-key:{facility_code}".encode()
    return hashlib.scrypt(passphrase, salt=salt, n=2**14, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32).hex().encode()


def load_facility_key(layout: KeyLayout, facility_code: str, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    """The facility's key, decrypted with the passphrase its staff typed; KeyMaterialError in Vietnamese."""
    path = layout.facility_key(facility_code)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), _stretched(passphrase, facility_code))
    except FileNotFoundError as missing:
        raise KeyMaterialError(
            f"Cơ sở {facility_code} chưa có khóa ký số trên máy chủ: quản trị viên tạo khóa bằng "
            f"lệnh `tiemchung cert keys facility --code {facility_code}`."
        ) from missing
    except (ValueError, TypeError) as wrong:
        raise KeyMaterialError("Sai mật khẩu khóa ký của cơ sở; chưa ký mũi tiêm nào.") from wrong
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyMaterialError("Khóa ký của cơ sở phải là khóa ECDSA P-256.")
    return key


def public_key_pem(private_key: ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def dose_canonical_bytes(dose: Dose, subject: Subject) -> bytes:
    """The signed content of a dose: who, what, when, where; sorted keys, no spaces, UTF-8."""
    content = {
        "record_id": dose.record_id,
        "subject_key": subject.subject_key,
        "full_name": subject.full_name,
        "birth_date": subject.birth_date,
        "sex": subject.sex,
        "id_number": subject.id_number,
        "passport_number": subject.passport_number,
        "nationality": subject.nationality,
        "vaccine": dose.vaccine,
        "lot_number": dose.lot_number,
        "vaccination_date": dose.vaccination_date.isoformat(),
        "dose_kind": dose.dose_kind,
        "facility_code": dose.facility_code,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(private_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode("ascii")


@dataclass(frozen=True)
class SigningResult:
    ok: bool
    reason_vi: str
    signature: DailySignature | None = None


def sign_facility_day(
    session: Session,
    facility_code: str,
    day: date,
    facility_key: ec.EllipticCurvePrivateKey,
    *,
    signer: str = "",
    now: datetime | None = None,
) -> SigningResult:
    """Sign every unsigned dose the facility entered for `day` (in the caller's transaction)."""
    facility = session.get(Facility, facility_code)
    if facility is None:
        return SigningResult(False, f"Không có cơ sở tiêm chủng mã {facility_code}.")
    if not facility.public_key_pem:
        return SigningResult(False, f"Cơ sở {facility_code} chưa đăng ký khóa công khai để ký số.")
    if facility.public_key_pem.strip() != public_key_pem(facility_key).strip():
        return SigningResult(False, f"Khóa ký không phải khóa đã đăng ký của cơ sở {facility_code}.")
    doses = unsigned_doses(session, facility_code, day)
    if not doses:
        return SigningResult(False, f"Cơ sở {facility_code} không có mũi tiêm nào chưa ký ngày {day:%d/%m/%Y}.")
    moment = now or datetime.now(UTC)
    manifest_lines = []
    for dose, subject in doses:
        content = dose_canonical_bytes(dose, subject)
        dose.signature = _sign(facility_key, content)
        dose.signed_at, dose.signed_by = moment, signer or facility_code
        manifest_lines.append(f"{dose.record_id}:{hashlib.sha256(content).hexdigest()}")
    manifest = "\n".join(sorted(manifest_lines))
    daily = DailySignature(
        facility_code=facility_code,
        day=day,
        signed_at=moment,
        signer=signer or facility_code,
        dose_count=len(doses),
        manifest=manifest,
        payload_sha256=hashlib.sha256(manifest.encode()).hexdigest(),
        signature=_sign(facility_key, manifest.encode()),
        public_key_pem=facility.public_key_pem,
    )
    session.add(daily)
    session.flush()
    return SigningResult(True, f"Đã ký {len(doses)} mũi tiêm của ngày {day:%d/%m/%Y}.", daily)


def unsigned_doses(session: Session, facility_code: str, day: date) -> list[tuple[Dose, Subject]]:
    """The facility's doses of `day` not signed yet, with their subjects, by record id."""
    query = (
        select(Dose, Subject)
        .join(Subject, Subject.id == Dose.subject_id)
        .where(Dose.facility_code == facility_code, Dose.vaccination_date == day, Dose.signed_at.is_(None))
        .order_by(Dose.record_id)
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def dose_signature_is_valid(session: Session, dose: Dose) -> bool:
    """The dose's signature verifies with its facility's registered key over the dose's current data.

    The facility signed the dose on the record it entered it on. A merge of one person's records (audited,
    `tiemchung.health.duplicates`) moves doses to the surviving record without changing them: such a dose verifies
    over the record it came from, which the survivor's active merges name. Any other change still fails.
    """
    facility = session.get(Facility, dose.facility_code)
    if not (dose.signature and facility and facility.public_key_pem):
        return False
    public_key = _facility_public_key(facility.public_key_pem)
    if public_key is None:
        return False
    signature = base64.b64decode(dose.signature)
    for subject in _records_holding(session, dose.subject_id):
        try:
            public_key.verify(signature, dose_canonical_bytes(dose, subject), ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def _records_holding(session: Session, subject_id: int) -> Iterator[Subject]:
    """The record, then the records merged into it (and into those), whose doses it now holds."""
    seen, frontier = {subject_id}, [subject_id]
    subject = session.get(Subject, subject_id)
    if subject is not None:
        yield subject
    while frontier:
        query = select(SubjectMerge.merged_id).where(
            SubjectMerge.survivor_id.in_(frontier), SubjectMerge.unmerged_at.is_(None)
        )
        frontier = [merged for merged in session.scalars(query) if merged not in seen]
        seen.update(frontier)
        for merged_id in frontier:
            merged = session.get(Subject, merged_id)
            if merged is not None:
                yield merged


@lru_cache(maxsize=4096)
def _facility_public_key(pem: str) -> ec.EllipticCurvePublicKey | None:
    """Parsed once per key: central issuance checks thousands of doses from the same facilities."""
    try:
        public_key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        return None
    return public_key if isinstance(public_key, ec.EllipticCurvePublicKey) else None


@dataclass(frozen=True)
class UnsignedDay:
    facility_code: str
    facility_name: str
    day: date
    entered: int
    unsigned: int


def unsigned_doses_report(session: Session, *, facility_code: str | None = None) -> list[UnsignedDay]:
    """Per facility and vaccination day: doses entered, and how many are still unsigned (only days with some)."""
    unsigned = func.sum(case((Dose.signed_at.is_(None), 1), else_=0)).cast(Integer)
    query = (
        select(Dose.facility_code, func.coalesce(Facility.name, ""), Dose.vaccination_date, func.count(), unsigned)
        .outerjoin(Facility, Facility.code == Dose.facility_code)
        .where(and_(Dose.duplicate_of_id.is_(None), *([Dose.facility_code == facility_code] if facility_code else [])))
        .group_by(Dose.facility_code, Facility.name, Dose.vaccination_date)
        .having(unsigned > 0)
        .order_by(Dose.vaccination_date, Dose.facility_code)
    )
    return [
        UnsignedDay(code, name, day, int(entered), int(count))
        for code, name, day, entered, count in session.execute(query)
    ]

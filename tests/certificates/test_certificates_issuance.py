"""Issuance end to end on the registry database: eligibility, facility signatures, numbering, revocation."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import cbor2
import cwt
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.issuance import eligibility, issue_certificate
from tiemchung.health.certificates.keys import DocumentSigner, TrustList
from tiemchung.health.certificates.revocation import revocation_list, revoke
from tiemchung.health.certificates.signing import unsigned_doses_report
from tiemchung.health.certificates.verifier import verify_hc1
from tiemchung.health.registry.models import Dose, Subject

DAY = date(2021, 9, 1)
NOW = datetime(2021, 10, 1, 8, 0, tzinfo=UTC)


def _issue(session: Session, subject: Subject, dose: Dose, signer: DocumentSigner):  # type: ignore[no-untyped-def]
    return issue_certificate(session, subject.id, dose.id, signer=signer, now=NOW, issued_by="cytdp")


def test_verified_citizen_gets_a_certificate_that_verifies(
    session: Session, signer: DocumentSigner, trust_list: TrustList, make_subject: Callable[..., Subject],
    make_dose: Callable[..., Dose], sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    subject = make_subject("Nguyễn Thị Đào")
    dose = make_dose(subject, DAY)
    sign_day(DAY)
    result = _issue(session, subject, dose, signer)
    assert result.ok, result.reason_vi
    certificate = result.certificate
    assert certificate is not None and hcert.uvci_is_valid(certificate.uvci)
    assert certificate.hc1.startswith("HC1:") and certificate.expires_at.year == 2022
    report = verify_hc1(certificate.hc1, trust_list, now=NOW + timedelta(days=30))
    assert report.valid, report.failed()
    payload = report.payload or {}
    assert payload["nam"] == {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Đào", "gnt": "THI<DAO"}
    assert payload["v"][0] | {"ci": ""} == {
        "tg": "840539006", "vp": "29061000087103", "mp": "EU/1/20/1525", "ma": "ORG-100001417", "dn": 1, "sd": 1,
        "dt": "2021-09-01", "co": "VN", "is": "Cục Y tế dự phòng - Bộ Y tế Việt Nam", "ci": "",
    }  # fmt: skip
    assert subject.id_number and subject.id_number not in certificate.hc1
    assert subject.id_number.encode() not in cbor2.dumps(payload)


def test_the_certificate_verifies_with_an_independent_implementation(
    session: Session, signer: DocumentSigner, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    subject = make_subject()
    dose = make_dose(subject, DAY)
    sign_day(DAY)
    certificate = _issue(session, subject, dose, signer).certificate
    assert certificate is not None
    cose = hcert.decompress(hcert.decode_base45(certificate.hc1[4:]) or b"") or b""
    public_key = cwt.load_pem_hcert_dsc(signer.certificate.public_bytes(serialization.Encoding.PEM))
    claims = cwt.decode(cose, keys=public_key, no_verify=True)
    assert claims[-260][1]["v"][0]["ci"] == certificate.uvci
    tampered = bytearray(cose)
    tampered[-5] ^= 0x01
    try:
        cwt.decode(bytes(tampered), keys=public_key, no_verify=True)
    except cwt.VerifyError:
        pass
    else:
        raise AssertionError("a changed signature must not verify")


def test_unverified_citizens_are_refused_with_the_reason(
    session: Session, signer: DocumentSigner, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    mismatch = make_subject(category="MISMATCH")
    not_yet = make_subject(category=None)
    no_id = make_subject(category="NO_ID_VERIFIED", id_number=None)
    doses = [make_dose(subject, DAY) for subject in (mismatch, not_yet, no_id)]
    sign_day(DAY)
    reasons = [
        _issue(session, subject, dose, signer) for subject, dose in zip((mismatch, not_yet, no_id), doses, strict=True)
    ]
    assert [result.ok for result in reasons] == [False, False, False]
    assert "sai so với CSDL" in reasons[0].reason_vi
    assert reasons[1].reason_vi == "Chưa xác minh với CSDL quốc gia về dân cư."
    assert "chưa cập nhật số định danh" in reasons[2].reason_vi
    no_id.id_number = "001190099999"
    assert eligibility(no_id).ok


def test_foreigners_are_certified_by_passport_without_the_register(
    session: Session, signer: DocumentSigner, trust_list: TrustList, make_subject: Callable[..., Subject],
    make_dose: Callable[..., Dose], sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    visitor = make_subject("Müller Jürgen", category="FOREIGN_PASSPORT", id_number=None, nationality="DE",
                           passport_number="C01X00T47")  # fmt: skip
    no_passport = make_subject("Smith John", category=None, id_number=None, nationality="GB")
    dose = make_dose(visitor, DAY)
    make_dose(no_passport, DAY)
    sign_day(DAY)
    result = _issue(session, visitor, dose, signer)
    assert result.ok and result.certificate is not None
    payload = verify_hc1(result.certificate.hc1, trust_list, now=NOW).payload or {}
    assert payload["nam"]["fnt"] == "MUELLER" and "C01X00T47" not in result.certificate.hc1
    assert not eligibility(no_passport).ok


def test_unsigned_or_changed_doses_are_not_certified(
    session: Session, signer: DocumentSigner, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    subject = make_subject()
    dose = make_dose(subject, DAY)
    assert _issue(session, subject, dose, signer).reason_vi == "Cơ sở tiêm chưa ký số mũi tiêm này."
    sign_day(DAY)
    dose.lot_number = "XY9999"
    assert "đã bị sửa sau khi ký" in _issue(session, subject, dose, signer).reason_vi


def test_each_booster_gets_a_new_certificate_numbered_as_eu_2021_2301(
    session: Session, signer: DocumentSigner, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    subject = make_subject()
    days = [date(2021, 7, 1), date(2021, 9, 1), date(2022, 1, 5)]
    doses = [
        make_dose(subject, days[0], vaccine="AstraZeneca"),
        make_dose(subject, days[1], vaccine="AstraZeneca", kind="2"),
        make_dose(subject, days[2], vaccine="Pfizer", kind="booster_1"),
    ]
    for day in days:
        sign_day(day)
    issued = [issue_certificate(session, subject.id, dose.id, signer=signer, now=NOW.replace(year=2022, month=2))
              for dose in doses]  # fmt: skip
    assert issued[0].reason_vi == "Chưa tiêm đủ liều cơ bản (mũi 1/2): chưa cấp chứng nhận."
    assert [(r.certificate.dose_number, r.certificate.total_doses) for r in issued if r.certificate] == [(2, 2), (3, 3)]
    assert len({r.certificate.uvci for r in issued if r.certificate}) == 2
    again = issue_certificate(session, subject.id, doses[2].id, signer=signer)
    assert again.certificate is not None and again.certificate.id == issued[2].certificate.id  # type: ignore[union-attr]


def test_revoked_certificates_fail_verification_through_the_list(
    session: Session, signer: DocumentSigner, trust_list: TrustList, make_subject: Callable[..., Subject],
    make_dose: Callable[..., Dose], sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    subject = make_subject()
    dose = make_dose(subject, DAY)
    sign_day(DAY)
    certificate = _issue(session, subject, dose, signer).certificate
    assert certificate is not None
    assert verify_hc1(certificate.hc1, trust_list, now=NOW, revocations=revocation_list(session)).valid
    assert revoke(session, certificate.uvci, "Mũi tiêm trùng lặp", revoked_by="cytdp").ok
    assert not revoke(session, certificate.uvci, "lần hai").ok
    published = revocation_list(session)
    assert certificate.uvci not in str(published.to_json())
    report = verify_hc1(certificate.hc1, trust_list, now=NOW, revocations=published)
    assert not report.valid
    assert [check.message_vi for check in report.failed()] == ["Chứng nhận đã bị thu hồi."]
    renewed = _issue(session, subject, dose, signer)
    assert renewed.certificate is not None and renewed.certificate.uvci != certificate.uvci


def test_unsigned_doses_are_reported_per_facility_and_day(
    session: Session, facility: object, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    subject = make_subject()
    make_dose(subject, date(2022, 3, 1))
    make_dose(subject, date(2022, 3, 2), kind="2")
    make_dose(make_subject(), date(2022, 3, 2))
    sign_day(date(2022, 3, 1))
    report = unsigned_doses_report(session)
    assert [(row.facility_code, row.day, row.entered, row.unsigned) for row in report] == [
        ("F001", date(2022, 3, 2), 2, 2)
    ]
    assert report[0].facility_name == "Trạm Y tế phường Kim Mã"

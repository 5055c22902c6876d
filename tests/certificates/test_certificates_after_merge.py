"""Certificates after a merge of one person's records and after its undoing: the whole series on the survivor's
certificates ("2/2", the booster "3/3"), the superseded ones on the published revocation list, both sides re-issued
when a merge is undone. Read from the signed payloads themselves."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung.health.certificates.issuance import issue_certificate
from tiemchung.health.certificates.keys import DocumentSigner, TrustList
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.revocation import revocation_list
from tiemchung.health.certificates.series import renew_series
from tiemchung.health.certificates.signing import dose_signature_is_valid
from tiemchung.health.certificates.verifier import verify_hc1
from tiemchung.health.duplicates.detect import Evidence
from tiemchung.health.duplicates.merge import merge_subjects, unmerge
from tiemchung.health.registry.models import Dose, Subject

NOW = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)
DAYS = (date(2021, 8, 2), date(2021, 9, 6), date(2022, 3, 7))


def _payload(certificate: Certificate, trust_list: TrustList) -> dict[str, Any]:
    report = verify_hc1(certificate.hc1, trust_list, now=NOW)
    assert report.payload is not None
    payload: dict[str, Any] = report.payload
    return payload


def _entry(certificate: Certificate, trust_list: TrustList) -> tuple[int, int, str, str]:
    """(dn, sd, the vaccination date, the family + given names) as the QR code says them."""
    payload = _payload(certificate, trust_list)
    entry = payload["v"][0]
    return entry["dn"], entry["sd"], entry["dt"], f"{payload['nam']['fn']} {payload['nam'].get('gn', '')}".strip()


def _active(session: Session, subject: Subject) -> list[Certificate]:
    query = select(Certificate).where(Certificate.subject_id == subject.id, Certificate.revoked_at.is_(None))
    return sorted(session.scalars(query), key=lambda certificate: certificate.dose_id)


def _three_records(
    session: Session,
    make_subject: Callable[..., Subject],
    make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
    signer: DocumentSigner,
) -> tuple[Subject, Subject, Subject, Certificate]:
    """One person registered by three facilities, each typing the dose it gave as the person's first Pfizer dose
    except the ward's station (dose 2): records A (verified), B (verified, the same CCCD) and C (no ID)."""
    first = make_subject("Nguyễn Thị Đào")
    second = make_subject("Nguyễn Thị Đào")
    third = make_subject("Nguyễn Thị Đào", category="NO_ID_UNVERIFIABLE", id_number=None)
    make_dose(first, DAYS[0], vaccine="Pfizer", kind="1")
    make_dose(second, DAYS[1], vaccine="Pfizer", kind="2")
    make_dose(third, DAYS[2], vaccine="Pfizer", kind="1")  # the booster, typed "mũi 1" by a facility that saw no record
    for day in DAYS:
        sign_day(day)
    issued = issue_certificate(session, second.id, second.doses[0].id, signer=signer, now=NOW)
    assert issued.certificate is not None
    return first, second, third, issued.certificate


def test_a_merge_reissues_the_whole_series_and_revokes_what_it_supersedes(
    session: Session, signer: DocumentSigner, trust_list: TrustList, make_subject: Callable[..., Subject],
    make_dose: Callable[..., Dose], sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    first, second, third, before = _three_records(session, make_subject, make_dose, sign_day, signer)
    assert _entry(before, trust_list)[:2] == (2, 2)
    # Before the merge, record A's dose is "1/2" (refused) and record C, without an ID, gets nothing.
    alone = issue_certificate(session, first.id, first.doses[0].id, signer=signer, now=NOW)
    assert not alone.ok and "1/2" in alone.reason_vi
    assert not issue_certificate(session, third.id, third.doses[0].id, signer=signer, now=NOW).ok

    result = merge_subjects(session, [first.id, second.id, third.id], actor="tram",
                            evidence=Evidence.CONFIRMED_BY_PERSON)  # fmt: skip
    assert result.survivor_id == first.id
    change = renew_series(session, [first.id, second.id, third.id], signer=signer, actor="tram", reason="Gộp", now=NOW)

    assert change.revoked == [before.uvci]  # it named record B, which no longer holds the dose
    session.refresh(before)
    assert before.revoked_at is not None and before.revocation_reason == "Gộp"
    published = revocation_list(session)
    revoked_report = verify_hc1(before.hc1, trust_list, now=NOW, revocations=published)
    assert [check.message_vi for check in revoked_report.failed()] == ["Chứng nhận đã bị thu hồi."]

    survivor_certificates = _active(session, first)
    assert [_entry(certificate, trust_list) for certificate in survivor_certificates] == [
        (2, 2, DAYS[1].isoformat(), "Nguyễn Thị Đào"),
        (3, 3, DAYS[2].isoformat(), "Nguyễn Thị Đào"),  # the "mũi 1" typed for the booster is the third dose: 3/3
    ]
    assert {certificate.uvci for certificate in survivor_certificates} == {c.uvci for c in change.issued}
    for certificate in survivor_certificates:
        assert verify_hc1(certificate.hc1, trust_list, now=NOW, revocations=published).valid
    assert _active(session, second) == [] and _active(session, third) == []

    # Nothing changed, nothing renewed: a second pass finds every certificate right.
    again = renew_series(session, [first.id], signer=signer, actor="tram", reason="Gộp", now=NOW)
    assert again.revoked == [] and again.issued == []


def test_unmerge_reissues_both_sides(
    session: Session, signer: DocumentSigner, trust_list: TrustList, make_subject: Callable[..., Subject],
    make_dose: Callable[..., Dose], sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    first, second, third, _before = _three_records(session, make_subject, make_dose, sign_day, signer)
    result = merge_subjects(session, [first.id, second.id, third.id], actor="tram",
                            evidence=Evidence.CONFIRMED_BY_PERSON)  # fmt: skip
    renew_series(session, [first.id, second.id, third.id], signer=signer, actor="tram", reason="Gộp", now=NOW)
    merged_second = next(merge for merge in result.merges if merge.merged_id == second.id)

    unmerge(session, merged_second.id, actor="tram")
    change = renew_series(session, [first.id, second.id], signer=signer, actor="tram", reason="Tách", now=NOW)

    # Record B has its dose 2 back, certified again under its own record; the survivor's series lost that dose:
    # its certificates for dose 2 and for the booster (now its second dose) are revoked, the booster is 2/2.
    assert [_entry(certificate, trust_list)[:3] for certificate in _active(session, second)] == [
        (2, 2, DAYS[1].isoformat())
    ]
    assert [_entry(certificate, trust_list)[:3] for certificate in _active(session, first)] == [
        (2, 2, DAYS[2].isoformat())
    ]
    assert len(change.revoked) == 2
    published = revocation_list(session)
    for uvci in change.revoked:
        old = session.scalar(select(Certificate).where(Certificate.uvci == uvci))
        assert old is not None and not verify_hc1(old.hc1, trust_list, now=NOW, revocations=published).valid


def test_without_the_central_key_the_wrong_certificates_are_revoked_and_the_doses_wait(
    session: Session, signer: DocumentSigner, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    first, second, third, before = _three_records(session, make_subject, make_dose, sign_day, signer)
    merge_subjects(session, [first.id, second.id, third.id], actor="tram", evidence=Evidence.CONFIRMED_BY_PERSON)
    change = renew_series(session, [first.id, second.id, third.id], signer=None, actor="tram", reason="Gộp")
    assert change.revoked == [before.uvci] and change.issued == [] and change.waiting == 2
    assert "2 mũi chờ Cục Y tế dự phòng ký cấp lại" in change.message_vi


def test_a_moved_dose_keeps_its_signature_but_not_through_a_change(
    session: Session, signer: DocumentSigner, make_subject: Callable[..., Subject], make_dose: Callable[..., Dose],
    sign_day: Callable[[date], None],
) -> None:  # fmt: skip
    first, second, third, _before = _three_records(session, make_subject, make_dose, sign_day, signer)
    moved = second.doses[0]
    merge_subjects(session, [first.id, second.id, third.id], actor="tram", evidence=Evidence.CONFIRMED_BY_PERSON)
    session.refresh(moved)
    assert moved.subject_id == first.id and dose_signature_is_valid(session, moved)  # signed on record B
    moved.lot_number = "SUA-SAU-KHI-KY"
    session.flush()
    assert not dose_signature_is_valid(session, moved)

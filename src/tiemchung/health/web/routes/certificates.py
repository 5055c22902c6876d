"""Pages of the vaccine certificates: a subject's certificates (print, PDF, issue, revoke), the facility signing its
day, the unsigned-doses report, and the public verifier with the trust list and revocation list it uses.

The work is in `tiemchung.health.web.certificates_service` (shared with the API); these handlers render its answers.
"""

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from tiemchung.health.certificates.documents import certificate_pdf, displayed_fields, verified_fields
from tiemchung.health.certificates.hcert import qr_svg
from tiemchung.health.certificates.issuance import eligibility, subject_certificates
from tiemchung.health.certificates.revocation import revocation_list
from tiemchung.health.registry.models import Role, User
from tiemchung.health.web import certificates_service as certificates
from tiemchung.health.web import subjects_service as service
from tiemchung.health.web.access import ALL_ROLES, PERSON_READERS
from tiemchung.health.web.deps import RowId, SessionDep, flash, get_settings, render, require_roles
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.public_verifier import (
    BUSY_VI,
    MAX_IMAGE_BYTES,
    VerificationPool,
    VerifierBusy,
    VerifyAnswer,
    verify_submission,
)
from tiemchung.health.web.settings import Settings

router = APIRouter(include_in_schema=False)
REPORT_READERS = (Role.FACILITY, Role.PROVINCE, Role.MINISTRY)
NAV_ITEMS = [
    NavItem("Ký số trong ngày", "/certificates/sign", frozenset({Role.FACILITY}), order=39),
    NavItem("Mũi chưa ký số", "/certificates/unsigned", frozenset(REPORT_READERS), order=40),
    NavItem("Kiểm tra chứng nhận", "/verify", frozenset(ALL_ROLES), order=41),
]

SettingsDep = Annotated[Settings, Depends(get_settings)]
Reader = Annotated[User, Depends(require_roles(*PERSON_READERS))]
# Central issuance (Cục Y tế dự phòng, Decision 5772/QĐ-BYT): the ministry role alone issues and revokes.
Issuer = Annotated[User, Depends(require_roles(Role.MINISTRY))]
ReportReader = Annotated[User, Depends(require_roles(*REPORT_READERS))]
FacilityUser = Annotated[User, Depends(require_roles(Role.FACILITY))]


def _subject_page(subject_id: int) -> RedirectResponse:
    return RedirectResponse(f"/subjects/{subject_id}/certificates", status_code=303)


# --- a subject's certificates -----------------------------------------------------------------------------


@router.get("/subjects/{subject_id}/certificates")
def subject_certificates_page(request: Request, subject_id: RowId, user: Reader, session: SessionDep) -> Response:
    subject = service.load_subject(session, user, subject_id, reason="Xem chứng nhận tiêm chủng")
    rows = [
        {"row": row, "fields": displayed_fields(row, subject), "qr": qr_svg(row.hc1)}
        for row in subject_certificates(session, subject.id)
    ]
    context = {
        "subject": subject,
        "eligibility": eligibility(subject),
        "doses": certificates.dose_statuses(session, subject),
        "certificates": rows,
        "can_issue": user.role == Role.MINISTRY,
    }
    session.commit()
    return render(request, "certificates/subject.html", context)


@router.get("/subjects/{subject_id}/certificates/print")
def print_page(request: Request, subject_id: RowId, user: Reader, session: SessionDep, uvci: str = "") -> Response:
    subject = service.load_subject(session, user, subject_id, reason="In chứng nhận tiêm chủng")
    certificate = certificates.certificate_of(session, subject.id, uvci)
    session.commit()
    if certificate is None:
        return render(request, "certificates/missing.html", {"subject": subject}, status_code=404)
    fields = displayed_fields(certificate, subject)
    context = {"certificate": certificate, "fields": fields, "qr": qr_svg(certificate.hc1)}
    return render(request, "certificates/print.html", context)


@router.get("/subjects/{subject_id}/certificates/pdf")
def pdf_download(request: Request, subject_id: RowId, user: Reader, session: SessionDep, uvci: str = "") -> Response:
    subject = service.load_subject(session, user, subject_id, reason="Tải PDF chứng nhận tiêm chủng")
    certificate = certificates.certificate_of(session, subject.id, uvci)
    session.commit()
    if certificate is None:
        return render(request, "certificates/missing.html", {"subject": subject}, status_code=404)
    headers = {"Content-Disposition": f'attachment; filename="chung-nhan-{certificate.id}.pdf"'}
    return Response(certificate_pdf(certificate, subject), media_type="application/pdf", headers=headers)


@router.post("/subjects/{subject_id}/certificates")
def issue_for_subject(request: Request, subject_id: RowId, user: Issuer, session: SessionDep) -> Response:
    subject = service.load_subject(session, user, subject_id, reason="Cấp chứng nhận tiêm chủng")
    outcome = certificates.issue_for_subject(session, user, subject, certificates.document_signer(request))
    session.commit() if outcome.ok else session.rollback()
    flash(request, " ".join(outcome.messages), "info" if outcome.ok else "error")
    return _subject_page(subject_id)


@router.post("/subjects/{subject_id}/certificates/revoke")
def revoke_for_subject(
    request: Request,
    subject_id: RowId,
    user: Issuer,
    session: SessionDep,
    uvci: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    subject = service.load_subject(session, user, subject_id, reason="Thu hồi chứng nhận tiêm chủng")
    result = certificates.revoke_for_subject(session, user, subject, uvci, reason)
    session.commit() if result.ok else session.rollback()
    flash(request, result.reason_vi, "success" if result.ok else "error")
    return _subject_page(subject_id)


# --- the facilities' daily signatures ---------------------------------------------------------------------


@router.get("/certificates/sign")
def signing_page(request: Request, user: FacilityUser, session: SessionDep, day: date | None = None) -> Response:
    """Seed 000, rule 5: the facility checks and signs the day's doses the same day."""
    context = {"page": certificates.signing_day(session, user, day)}
    session.commit()
    return render(request, "certificates/sign.html", context)


@router.post("/certificates/sign")
def sign_submit(
    request: Request,
    user: FacilityUser,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date, Form()],
    passphrase: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not passphrase:
        flash(request, "Hãy nhập mật khẩu khóa ký của cơ sở.", "error")
        return RedirectResponse(f"/certificates/sign?day={day.isoformat()}", status_code=303)
    result = certificates.sign_day(session, user, settings, day, passphrase)
    session.commit()  # the signatures, or only the audit event of a refused attempt
    flash(request, result.reason_vi, "success" if result.ok else "error")
    return RedirectResponse(f"/certificates/sign?day={day.isoformat()}", status_code=303)


@router.get("/certificates/unsigned")
def unsigned_report_page(request: Request, user: ReportReader, session: SessionDep) -> Response:
    rows = certificates.unsigned_days_for(session, user)
    session.commit()
    return render(request, "certificates/unsigned.html", {"rows": rows, "today": certificates.vietnam_today()})


# --- the public verifier ----------------------------------------------------------------------------------


def _pool(request: Request) -> VerificationPool:
    pool: VerificationPool | None = getattr(request.app.state, "verification_pool", None)
    if pool is None:
        pool = request.app.state.verification_pool = VerificationPool()
    return pool


Pool = Annotated[VerificationPool, Depends(_pool)]


# The verifier and the two lists are public: a border officer checking a QR has no account here.
@router.get("/verify")
def verify_page(request: Request) -> Response:
    return render(request, "certificates/verify.html", {"answer": None})


@router.post("/verify")
async def verify_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    pool: Pool,
    text: Annotated[str, Form()] = "",
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    # One byte more than allowed is read, so that a larger file is recognised and refused.
    data = await image.read(MAX_IMAGE_BYTES + 1) if image is not None and image.filename else None

    def work() -> VerifyAnswer:
        # Reading the lists and decoding both run in the verifier's own threads: never on the event loop, and a
        # burst of posts waits there instead of taking the threads (and database connections) the pages need.
        return verify_submission(text, data, certificates.trust_list(settings), revocation_list(session))

    try:
        answer = await pool.run(work)
    except VerifierBusy:
        raise HTTPException(status_code=503, detail=BUSY_VI, headers={"Retry-After": "5"}) from None
    payload = answer.report.payload if answer.report else None
    fields = verified_fields(payload) if payload else []
    return render(request, "certificates/verify.html", {"answer": answer, "fields": fields})


@router.get("/certificates/trust-list.json")
def trust_list_json(settings: SettingsDep) -> Response:
    return JSONResponse(certificates.trust_list(settings).to_json())


@router.get("/certificates/revocation-list.json")
def revocation_list_json(session: SessionDep) -> Response:
    return Response(json.dumps(revocation_list(session).to_json()), media_type="application/json")

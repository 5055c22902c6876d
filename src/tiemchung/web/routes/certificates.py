"""Pages of the vaccine certificates: a subject's certificates (print, PDF, issue, revoke), the unsigned-doses
report, and the public verifier with the trust list and revocation list it uses."""

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from tiemchung.certificates.keys import DocumentSigner, KeyMaterialError, TrustList, passphrase_from
from tiemchung.certificates.models import Certificate
from tiemchung.registry.models import Facility, Role, User
from tiemchung.web import subjects_service as service
from tiemchung.web.access import ALL_ROLES, PERSON_READERS
from tiemchung.web.deps import flash, get_session, get_settings, render, require_roles
from tiemchung.web.nav import NavItem

router = APIRouter(include_in_schema=False)
CENTRAL_ISSUER = (Role.MINISTRY,)
REPORT_READERS = (Role.FACILITY, Role.PROVINCE, Role.MINISTRY)
NAV_ITEMS = [
    NavItem("Mũi chưa ký số", "/certificates/unsigned", frozenset(REPORT_READERS), order=40),
    NavItem("Kiểm tra chứng nhận", "/verify", frozenset(ALL_ROLES), order=41),
]
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def _signer(request: Request) -> DocumentSigner | None:
    """The DSC from the settings' keys directory, decrypted once per process; None when not configured."""
    from tiemchung.certificates.keys import load_signer

    cached: DocumentSigner | None = getattr(request.app.state, "certificate_signer", None)
    if cached is None:
        try:
            cached = load_signer(get_settings(request).keys_dir, passphrase_from())
        except (KeyMaterialError, OSError):
            return None
        request.app.state.certificate_signer = cached
    return cached


def _trust_list(request: Request) -> TrustList:
    path = get_settings(request).keys_dir / "trustlist.json"
    return TrustList.load(path) if path.exists() else TrustList([])


# --- a subject's certificates -----------------------------------------------------------------------------


@router.get("/subjects/{subject_id}/certificates")
def subject_certificates_page(
    request: Request,
    subject_id: int,
    user: User = Depends(require_roles(*PERSON_READERS)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.documents import displayed_fields
    from tiemchung.certificates.hcert import qr_svg
    from tiemchung.certificates.issuance import eligibility, subject_certificates

    subject = service.load_subject(session, user, subject_id, reason="Xem chứng nhận tiêm chủng")
    certificates = [
        {"row": row, "fields": displayed_fields(row, subject), "qr": qr_svg(row.hc1, scale=3)}
        for row in subject_certificates(session, subject.id)
    ]
    session.commit()
    context = {
        "subject": subject,
        "eligibility": eligibility(subject),
        "certificates": certificates,
        "can_issue": user.role in CENTRAL_ISSUER,
    }
    return render(request, "certificates/subject.html", context)


@router.get("/subjects/{subject_id}/certificates/print")
def print_page(
    request: Request,
    subject_id: int,
    uvci: str = "",
    user: User = Depends(require_roles(*PERSON_READERS)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.documents import displayed_fields
    from tiemchung.certificates.hcert import qr_svg

    subject = service.load_subject(session, user, subject_id, reason="In chứng nhận tiêm chủng")
    certificate = _certificate_of(session, subject.id, uvci)
    session.commit()
    if certificate is None:
        return render(request, "certificates/missing.html", {"subject": subject}, status_code=404)
    context = {
        "certificate": certificate,
        "fields": displayed_fields(certificate, subject),
        "qr": qr_svg(certificate.hc1),
    }
    return render(request, "certificates/print.html", context)


@router.get("/subjects/{subject_id}/certificates/pdf")
def pdf_download(
    request: Request,
    subject_id: int,
    uvci: str = "",
    user: User = Depends(require_roles(*PERSON_READERS)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.documents import certificate_pdf

    subject = service.load_subject(session, user, subject_id, reason="Tải PDF chứng nhận tiêm chủng")
    certificate = _certificate_of(session, subject.id, uvci)
    session.commit()
    if certificate is None:
        return render(request, "certificates/missing.html", {"subject": subject}, status_code=404)
    headers = {"Content-Disposition": f'attachment; filename="chung-nhan-{certificate.id}.pdf"'}
    return Response(certificate_pdf(certificate, subject), media_type="application/pdf", headers=headers)


def _certificate_of(session: Session, subject_id: int, uvci: str) -> Certificate | None:
    query = select(Certificate).where(Certificate.subject_id == subject_id, Certificate.uvci == uvci)
    return session.scalar(query)


@router.post("/subjects/{subject_id}/certificates")
def issue_for_subject(
    request: Request,
    subject_id: int,
    user: User = Depends(require_roles(*CENTRAL_ISSUER)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.issuance import certifiable_doses, issue_certificate

    subject = service.load_subject(session, user, subject_id, reason="Cấp chứng nhận tiêm chủng")
    signer = _signer(request)
    if signer is None:
        flash(request, "Chưa cấu hình khóa ký (thư mục khóa và TIEMCHUNG_KEY_PASSPHRASE).", "error")
        session.rollback()
        return RedirectResponse(f"/subjects/{subject_id}/certificates", status_code=303)
    messages = []
    for _subject_id, dose_id in certifiable_doses(session, subject_key=subject.subject_key):
        result = issue_certificate(session, subject.id, dose_id, signer=signer, issued_by=user.username)
        messages.append(result.reason_vi)
    session.commit()
    flash(request, " ".join(messages) or "Không có mũi tiêm nào đủ điều kiện cấp mới.", "info")
    return RedirectResponse(f"/subjects/{subject_id}/certificates", status_code=303)


@router.post("/subjects/{subject_id}/certificates/revoke")
def revoke_for_subject(
    request: Request,
    subject_id: int,
    uvci: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    user: User = Depends(require_roles(*CENTRAL_ISSUER)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.revocation import revoke

    subject = service.load_subject(session, user, subject_id, reason="Thu hồi chứng nhận tiêm chủng")
    if _certificate_of(session, subject.id, uvci) is None:
        session.rollback()
        flash(request, "Không có chứng nhận này trong hồ sơ đối tượng.", "error")
        return RedirectResponse(f"/subjects/{subject_id}/certificates", status_code=303)
    result = revoke(session, uvci, reason, revoked_by=user.username)
    session.commit() if result.ok else session.rollback()
    flash(request, result.reason_vi, "success" if result.ok else "error")
    return RedirectResponse(f"/subjects/{subject_id}/certificates", status_code=303)


# --- the facilities' daily signatures ---------------------------------------------------------------------


@router.get("/certificates/unsigned")
def unsigned_report_page(
    request: Request,
    user: User = Depends(require_roles(*REPORT_READERS)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.signing import unsigned_doses_report

    rows = unsigned_doses_report(session, facility_code=user.facility_code if user.role == Role.FACILITY else None)
    if user.role == Role.PROVINCE:
        in_province = set(session.scalars(select(Facility.code).where(Facility.province_code == user.area_code)))
        rows = [row for row in rows if row.facility_code in in_province]
    return render(request, "certificates/unsigned.html", {"rows": rows})


# --- the public verifier ----------------------------------------------------------------------------------


# The verifier and the two lists are public: a border officer checking a QR has no account here.
@router.get("/verify")
def verify_page(request: Request) -> Response:
    return render(request, "certificates/verify.html", {"report": None, "text": ""})


@router.post("/verify")
async def verify_submit(
    request: Request,
    text: Annotated[str, Form()] = "",
    image: Annotated[UploadFile | None, File()] = None,
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.certificates.hcert import read_qr_image
    from tiemchung.certificates.revocation import revocation_list
    from tiemchung.certificates.verifier import verify_hc1

    error = ""
    content = text.strip()
    if image is not None and image.filename:
        data = await image.read(MAX_IMAGE_BYTES + 1)
        decoded = read_qr_image(data) if len(data) <= MAX_IMAGE_BYTES else None
        content = decoded or content
        error = "" if decoded else "Không đọc được mã QR trong ảnh (ảnh PNG/JPEG, tối đa 5 MB)."
    report = None
    if content:
        report = verify_hc1(content, _trust_list(request), now=datetime.now(UTC), revocations=revocation_list(session))
    elif not error:
        error = "Hãy dán chuỗi HC1:... hoặc tải lên ảnh mã QR."
    return render(request, "certificates/verify.html", {"report": report, "text": content, "error": error})


@router.get("/certificates/trust-list.json")
def trust_list_json(request: Request) -> Response:
    return JSONResponse(_trust_list(request).to_json())


@router.get("/certificates/revocation-list.json")
def revocation_list_json(session: Session = Depends(get_session)) -> Response:
    from tiemchung.certificates.revocation import revocation_list

    return Response(json.dumps(revocation_list(session).to_json()), media_type="application/json")

"""The printable certificate: the 11 displayed fields of Decision 5772/QĐ-BYT in Vietnamese and English, with the QR.

Fields (Decision 5772/QĐ-BYT, 1.1): full name, date of birth, nationality, disease targeted, number of doses
received, vaccination date, dose number, vaccine, vaccine product, vaccine supplier or manufacturer, certificate
identifier. The printed page adds the masked ID or passport number (to match the paper to an ID document; it is
never in the QR), the issuer and the expiry date. Everything shown is read back from the signed QR payload, so
the paper cannot say something the QR does not.
"""

import io
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.verifier import vaccination_value_sets
from tiemchung.health.registry.models import Subject
from tiemchung.reference.vaccines import ATC_COVID_19, INACTIVATED, MRNA, VIRAL_VECTOR, vaccines

DISEASES = {"840539006": ("COVID-19", "COVID-19")}
VACCINE_TYPES = {
    MRNA: ("Vắc xin mRNA phòng COVID-19", "SARS-CoV-2 mRNA vaccine"),
    VIRAL_VECTOR: ("Vắc xin véc-tơ vi-rút không sao chép", "Non-replicating viral vector vaccine"),
    INACTIVATED: ("Vắc xin bất hoạt toàn hạt", "Inactivated whole SARS-CoV-2 antigen vaccine"),
    ATC_COVID_19: ("Vắc xin phòng COVID-19", "Covid-19 vaccines"),
}
COUNTRY_NAMES = {"VN": ("Việt Nam", "Viet Nam")}


@dataclass(frozen=True)
class DisplayedField:
    label_vi: str
    label_en: str
    value: str


def mask_number(number: str | None) -> str:
    """All but the last 4 characters hidden: enough to match an ID card, not enough to copy it."""
    if not number:
        return ""
    return "•" * max(len(number) - 4, 0) + number[-4:]


def displayed_fields(certificate: Certificate, subject: Subject) -> list[DisplayedField]:
    """The 11 fields of Decision 5772, read from the signed payload, then the printed-only lines."""
    message = hcert.message_of(certificate.hc1)
    claims = hcert.decode_claims(message) if message is not None else None
    dcc: dict[str, Any] = (hcert.dcc_of(claims) if claims is not None else None) or {}
    entry: dict[str, Any] = (dcc.get("v") or [{}])[0]
    name = dcc.get("nam", {})
    disease = DISEASES.get(entry.get("tg", ""), (entry.get("tg", ""), entry.get("tg", "")))
    kind = VACCINE_TYPES.get(entry.get("vp", ""), (entry.get("vp", ""), entry.get("vp", "")))
    nationality = COUNTRY_NAMES.get(subject.nationality, (subject.nationality, subject.nationality))
    manufacturer = vaccination_value_sets()["ma"].get(entry.get("ma", ""), entry.get("ma", ""))
    identity = ("Số định danh cá nhân", "Personal ID number", subject.id_number)
    if subject.nationality != "VN":
        identity = ("Số hộ chiếu", "Passport number", subject.passport_number)
    return [
        DisplayedField("Họ và tên", "Full name", f"{name.get('fn', '')} {name.get('gn', '')}".strip()),
        DisplayedField("Ngày tháng năm sinh", "Date of birth", _vietnamese_date(dcc.get("dob", ""))),
        DisplayedField("Quốc tịch", "Nationality", f"{nationality[0]} / {nationality[1]}"),
        DisplayedField("Bệnh dịch mà chứng nhận nhắm tới", "Disease targeted", disease[0]),
        DisplayedField("Số mũi tiêm đã nhận", "Number of doses received", str(entry.get("dn", ""))),
        DisplayedField("Ngày tiêm", "Date of vaccination", _vietnamese_date(entry.get("dt", ""))),
        DisplayedField("Liều số", "Dose number", f"{entry.get('dn', '')}/{entry.get('sd', '')}"),
        DisplayedField("Vắc xin", "Vaccine", f"{kind[0]} / {kind[1]}"),
        DisplayedField("Sản phẩm vắc xin", "Vaccine product", _product_name(entry.get("mp", ""))),
        DisplayedField("Nhà cung cấp hoặc sản xuất vắc xin", "Vaccine supplier or manufacturer", manufacturer),
        DisplayedField("Mã số của chứng nhận", "Certificate identifier", str(entry.get("ci", ""))),
        DisplayedField(identity[0], identity[1], mask_number(identity[2])),
        DisplayedField("Đơn vị cấp", "Issued by", str(entry.get("is", ""))),
        DisplayedField("Có giá trị đến", "Valid until", f"{certificate.expires_at:%d/%m/%Y}"),
    ]


def verified_fields(dcc: dict[str, Any]) -> list[DisplayedField]:
    """What a verifier shows of any certificate's payload (ours or another country's), in words, not codes."""
    entries = [entry for entry in dcc.get("v") or [] if isinstance(entry, dict)]
    entry: dict[str, Any] = entries[0] if entries else {}
    found = dcc.get("nam")
    name: dict[str, Any] = found if isinstance(found, dict) else {}
    transliterated = "<<".join(part for part in (name.get("fnt", ""), name.get("gnt", "")) if part)
    full_name = f"{name.get('fn', '')} {name.get('gn', '')}".strip() or transliterated
    fields = [
        DisplayedField("Họ và tên", "Full name", f"{full_name} ({transliterated})" if transliterated else full_name),
        DisplayedField("Ngày tháng năm sinh", "Date of birth", _vietnamese_date(str(dcc.get("dob", "")))),
    ]
    if entry:
        manufacturer = vaccination_value_sets()["ma"].get(entry.get("ma", ""), entry.get("ma", ""))
        fields += [
            DisplayedField("Ngày tiêm", "Date of vaccination", _vietnamese_date(str(entry.get("dt", "")))),
            DisplayedField("Liều số", "Dose number", f"{entry.get('dn', '')}/{entry.get('sd', '')}"),
            DisplayedField("Sản phẩm vắc xin", "Vaccine product", _product_name(str(entry.get("mp", "")))),
            DisplayedField("Nhà cung cấp hoặc sản xuất vắc xin", "Vaccine manufacturer", str(manufacturer)),
            DisplayedField("Nước tiêm", "Country of vaccination", _country_name(str(entry.get("co", "")))),
            DisplayedField("Đơn vị cấp", "Issued by", str(entry.get("is", ""))),
            DisplayedField("Mã số của chứng nhận", "Certificate identifier", str(entry.get("ci", ""))),
        ]
    return fields


def _country_name(code: str) -> str:
    from babel import Locale

    name = Locale("vi").territories.get(code.upper())
    return f"{name} ({code})" if name else code


def _product_name(code: str) -> str:
    for vaccine in vaccines():
        if vaccine.medicinal_product == code:
            return f"{vaccine.name_vi} ({code})"
    return code


def _vietnamese_date(iso: str) -> str:
    try:
        return f"{date.fromisoformat(iso):%d/%m/%Y}"
    except ValueError:
        return iso  # a year-only or year-month birth date is shown as registered


def _font_path(file_name: str) -> str:
    # DejaVu Serif is shipped in the package (Bitstream Vera licence, redistribution allowed): it has every
    # Vietnamese letter, and a fresh machine may have no Unicode font at all.
    return str(resources.files("tiemchung.health.certificates").joinpath("fonts", file_name))


def certificate_pdf(certificate: Certificate, subject: Subject) -> bytes:
    """An A4 PDF: title, the fields in Vietnamese and English, the QR code and the revocation state."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title("Chứng nhận tiêm chủng COVID-19 / COVID-19 Vaccination Certificate")
    pdf.set_author("Cục Y tế dự phòng - Bộ Y tế")
    pdf.add_font("DejaVu", "", _font_path("DejaVuSerif.ttf"))
    pdf.add_font("DejaVu", "B", _font_path("DejaVuSerif-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 8, "CHỨNG NHẬN TIÊM CHỦNG COVID-19", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    pdf.cell(0, 6, "COVID-19 Vaccination Certificate (EU DCC)", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.image(io.BytesIO(hcert.qr_png(certificate.hc1, scale=6)), x=65, y=30, w=80)
    pdf.set_y(115)
    if certificate.revoked_at is not None:
        pdf.set_font("DejaVu", "B", 12)
        pdf.set_text_color(180, 0, 0)
        pdf.cell(0, 8, "ĐÃ THU HỒI / REVOKED", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    for field in displayed_fields(certificate, subject):
        _field_row(pdf, field)
    return bytes(pdf.output())


def _field_row(pdf: Any, field: DisplayedField) -> None:
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(80, 5, field.label_vi)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 5, field.value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(80, 4, field.label_en, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1)

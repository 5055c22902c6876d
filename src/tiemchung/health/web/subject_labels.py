"""A subject's codes as people read them: the verdict in words (a coloured badge), the commune's name, the sex."""

from markupsafe import Markup, escape

from tiemchung import reference
from tiemchung.interchange.results import Category, Reason

GOOD = frozenset({Category.VERIFIED.value, Category.NO_ID_VERIFIED.value})
SEX_LABELS = {"M": "Nam", "F": "Nữ"}


def verdict_label(category: str | None) -> str:
    if not category:
        return "Chưa xác minh"
    return Category(category).label_vi if category in Category else category


def verdict_badge(category: str | None) -> Markup:
    tone = "ok" if category in GOOD else "bad" if category == Category.MISMATCH.value else "warn" if category else ""
    return Markup(f'<span class="badge {tone}">{escape(verdict_label(category))}</span>')


def reason_labels(codes: str | None) -> list[str]:
    """ "NAME;SEX" as ["Sai họ tên", "Sai giới tính"]; an unknown code as it is."""
    return [Reason(code).label_vi if code in Reason else code for code in (codes or "").split(";") if code]


def vaccine_label(key: str | None) -> str:
    """The vaccine's name as the list shows it ("Pfizer (Comirnaty)"); an unknown key as it is."""
    vaccine = reference.vaccine_by_name(key or "")
    return vaccine.name_vi if vaccine is not None else key or ""


def ward_name(code: str | None) -> str:
    """The commune's name ("Phường Phúc Xá"), or the code when it is not in the list (or empty)."""
    if not code:
        return ""
    ward = reference.ward(code)
    return ward.full_name if ward is not None else code


TEMPLATE_GLOBALS = {
    "verdict_badge": verdict_badge,
    "verdict_label": verdict_label,
    "reason_labels": reason_labels,
    "ward_name": ward_name,
    "vaccine_label": vaccine_label,
    "sex_label": lambda code: SEX_LABELS.get(code or "", ""),
}

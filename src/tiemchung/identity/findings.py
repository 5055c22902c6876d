"""A finding: one explained outcome of a check, with a stable code for programs and a Vietnamese message for people."""

from dataclasses import dataclass
from typing import Literal

Severity = Literal["warning", "error"]


@dataclass(frozen=True)
class Finding:
    """`code` is stable English (e.g. "id.leading_zeros_restored"); `message` is for a health worker, in Vietnamese."""

    code: str
    message: str
    severity: Severity


def warning(code: str, message: str) -> Finding:
    return Finding(code, message, "warning")


def error(code: str, message: str) -> Finding:
    return Finding(code, message, "error")

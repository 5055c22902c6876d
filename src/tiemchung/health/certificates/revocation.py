"""Revocation: withdraw a certificate (e.g. its dose was a duplicate) and publish what verifiers need to see it.

The published list carries hashes, never UVCIs (EU Decision 2022/483 and the DCC revocation specification):
SHA-256 of the UVCI, of the issuing country + UVCI, and of the signature (for ECDSA, its r half), each cut
to its first 16 bytes and written in base64.
"""

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung.health.registry.audit import record

HASH_BYTES = 16


def _short_hash(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()[:HASH_BYTES]).decode()


def revocation_hashes(uvci: str, issuer_country: str, signature: bytes) -> dict[str, str]:
    """The three revocation hashes of one certificate, by hash type (as named in the DCC revocation spec)."""
    hashes = {"SIGNATURE": _short_hash(_signature_part(signature))}
    if uvci:
        hashes["UCI"] = _short_hash(uvci.encode("utf-8"))
        hashes["COUNTRYCODEUCI"] = _short_hash((issuer_country + uvci).encode("utf-8"))
    return hashes


def _signature_part(signature: bytes) -> bytes:
    # ECDSA signatures can be re-encoded without the key (s ↔ n - s), so the spec hashes only r, the first half.
    # A P-256 signature is 64 bytes; RSA-PSS (256+ bytes) is hashed whole.
    return signature[:32] if len(signature) == 64 else signature


@dataclass
class RevocationList:
    """The hashes of revoked certificates, as a verifier downloads them."""

    hashes: set[str]

    def contains_any(self, hashes: dict[str, str]) -> bool:
        return any(value in self.hashes for value in hashes.values())

    def to_json(self) -> dict[str, Any]:
        return {"hashType": ["UCI", "COUNTRYCODEUCI", "SIGNATURE"], "hashes": sorted(self.hashes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RevocationList":
        return cls(set(data.get("hashes", [])))

    @classmethod
    def of(cls, hash_maps: Iterable[dict[str, str]]) -> "RevocationList":
        return cls({value for hashes in hash_maps for value in hashes.values()})


@dataclass(frozen=True)
class RevocationResult:
    ok: bool
    reason_vi: str


def revoke(session: Session, uvci: str, reason: str, *, revoked_by: str = "system") -> RevocationResult:
    """Mark a certificate revoked (in the caller's transaction) and leave an audit event."""
    # local: models' Certificate computes its revocation hashes with this module, a cycle at import time
    from tiemchung.health.certificates.models import Certificate

    certificate = session.scalar(select(Certificate).where(Certificate.uvci == uvci))
    if certificate is None:
        return RevocationResult(False, f"Không có chứng nhận mã {uvci}.")
    if certificate.revoked_at is not None:
        return RevocationResult(False, f"Chứng nhận {uvci} đã bị thu hồi từ {certificate.revoked_at:%d/%m/%Y}.")
    if not reason.strip():
        return RevocationResult(False, "Cần ghi lý do thu hồi.")
    certificate.revoked_at = datetime.now(UTC)
    certificate.revocation_reason = reason.strip()
    certificate.revoked_by = revoked_by
    record(
        session,
        actor=revoked_by,
        action="revoke",
        entity="certificate",
        entity_id=certificate.id,
        subject_id=certificate.subject_id,
        reason=reason.strip(),
        detail={"uvci": uvci},
    )
    return RevocationResult(True, f"Đã thu hồi chứng nhận {uvci}.")


def revocation_list(session: Session) -> RevocationList:
    """The published list: the hashes of every revoked certificate."""
    # local: a cycle with models, as in revoke()
    from tiemchung.health.certificates.models import Certificate

    revoked = session.scalars(select(Certificate).where(Certificate.revoked_at.is_not(None)))
    return RevocationList.of(certificate.revocation_hashes() for certificate in revoked)

"""The commune police's signature over a worklist (seed 000, step 3): Ed25519 over a canonical JSON of its lines.

The canonical content is rebuilt from the database every time the list is shown, so any change to a signed line
(or a line added or removed) makes the stored signature fail: the page then says "đã bị sửa đổi sau khi ký".
Each police user has a key pair; the private key is a file in the keys directory (mode 0600), the public key is in
the database with every signature pointing at it, so old signatures stay checkable after a key is replaced.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung.health.cleaning.models import CleaningWorklist, SigningKey, WorklistSignature

TAMPERED = "Danh sách đã bị sửa đổi sau khi ký: chữ ký không còn hợp lệ."


def utc_seconds(moment: datetime) -> datetime:
    """UTC, without microseconds: the form in which the time enters the signed content on every database."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def canonical_content(worklist: CleaningWorklist, signer: str, signed_at: datetime) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8 (stable across databases and platforms)."""
    document = {
        "worklist_id": worklist.id,
        "ward_code": worklist.ward_code,
        "signer": signer,
        "signed_at": utc_seconds(signed_at).isoformat(),
        "lines": [_line_content(line) for line in sorted(worklist.lines, key=lambda line: line.id)],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _line_content(line: Any) -> dict[str, Any]:
    return {
        "line_id": line.id,
        "subject_id": line.subject_id,
        "problem": line.problem,
        "register_reasons": line.register_reasons,
        "listed": line.listed,
        "family_outcome": line.family_outcome,
        "family": line.family,
        "police_decision": line.police_decision,
        "police": line.police,
    }


def _key_path(keys_dir: Path, username: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in username)
    return keys_dir / "cleaning" / f"{safe}.pem"


def _public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def signing_key_for(session: Session, username: str, keys_dir: Path) -> tuple[SigningKey, Ed25519PrivateKey]:
    """The user's key pair, created on first use (and re-created if the private key file was lost)."""
    path = _key_path(keys_dir, username)
    if path.exists():
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(private, Ed25519PrivateKey):
            stored = session.scalar(
                select(SigningKey).where(
                    SigningKey.username == username, SigningKey.public_key_pem == _public_pem(private)
                )
            )
            if stored is not None and stored.active:
                return stored, private
    private = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    stored = SigningKey(username=username, algorithm="Ed25519", public_key_pem=_public_pem(private), active=True)
    session.add(stored)
    session.flush()
    return stored, private


def sign(session: Session, worklist: CleaningWorklist, signer: str, keys_dir: Path, now: datetime) -> WorklistSignature:
    key, private = signing_key_for(session, signer, keys_dir)
    signed_at = utc_seconds(now)
    content = canonical_content(worklist, signer, signed_at)
    signature = WorklistSignature(
        worklist_id=worklist.id,
        signing_key_id=key.id,
        signer=signer,
        signed_at=signed_at,
        content_sha256=hashlib.sha256(content).hexdigest(),
        signature=base64.b64encode(private.sign(content)).decode("ascii"),
        superseded=False,
    )
    session.add(signature)
    session.flush()
    return signature


@dataclass(frozen=True)
class SignatureCheck:
    signature: WorklistSignature | None
    valid: bool
    message: str


def current_signature(session: Session, worklist: CleaningWorklist) -> WorklistSignature | None:
    return session.scalar(
        select(WorklistSignature)
        .where(WorklistSignature.worklist_id == worklist.id, WorklistSignature.superseded.is_(False))
        .order_by(WorklistSignature.id.desc())
    )


def check(session: Session, worklist: CleaningWorklist) -> SignatureCheck:
    """Verify the list's current signature against its content as it is now in the database."""
    signature = current_signature(session, worklist)
    if signature is None:
        return SignatureCheck(None, False, "Danh sách chưa được ký.")
    key = session.get(SigningKey, signature.signing_key_id)
    public = serialization.load_pem_public_key(key.public_key_pem.encode("ascii")) if key else None
    if not isinstance(public, Ed25519PublicKey):
        return SignatureCheck(signature, False, "Không tìm thấy khóa công khai của người ký.")
    content = canonical_content(worklist, signature.signer, signature.signed_at)
    try:
        public.verify(base64.b64decode(signature.signature), content)
    except (InvalidSignature, ValueError):
        return SignatureCheck(signature, False, TAMPERED)
    when = utc_seconds(signature.signed_at).strftime("%d/%m/%Y %H:%M UTC")
    return SignatureCheck(signature, True, f"Chữ ký hợp lệ của {signature.signer} ({when}).")

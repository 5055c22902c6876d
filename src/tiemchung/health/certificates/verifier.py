"""Offline verification of any HC1 certificate against a trust list, with every check explained in Vietnamese.

The checks follow the EU DCC validation steps (and the EU test-data repository's expected results):
prefix, Base45, zlib, COSE, CBOR/HCERT structure, schema, value sets (vaccination codes), kid, signature,
key usage, expiry, revocation.
Decoding stops at the first broken layer (nothing after it can be read); the other checks all run, so that a
verifier sees every reason a code is refused, not only the first.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.algorithms import Es256
from pycose.headers import Algorithm
from pycose.keys import CoseKey
from pycose.messages import Sign1Message

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.keys import EKU_BY_CERTIFICATE_TYPE, TrustedSigner, TrustList, certificate_usages
from tiemchung.health.certificates.revocation import RevocationList, revocation_hashes

SCHEMA_FILES = {
    "1.0": "DGC-1.0.0.json",
    "1.1": "DGC-1.1.0.json",
    "1.2": "DCC-1.2.1.json",
    "1.3": "DCC-1.3.0.json",
}
LATEST_SCHEMA = "DCC-1.3.0.json"
CERTIFICATE_TYPES = ("v", "t", "r")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message_vi: str


@dataclass
class VerificationReport:
    valid: bool
    checks: list[Check]
    payload: dict[str, Any] | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


# --- single checks (also used one by one by the EU conformance tests) -------------------------------------


@cache
def schema_for(version: str) -> dict[str, Any]:
    """The DCC JSON schema for a payload's `ver` (by major.minor; unknown versions use the latest)."""
    file_name = SCHEMA_FILES.get(".".join(version.split(".")[:2]), LATEST_SCHEMA)
    text = resources.files("tiemchung.health.certificates").joinpath("schemas", file_name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def check_schema(dcc: dict[str, Any]) -> Check:
    """The DCC against the schema of its own version, and exactly one of v / t / r."""
    version = dcc.get("ver")
    if not isinstance(version, str):
        return Check("schema", False, "Chứng nhận không ghi phiên bản lược đồ (ver).")
    validator = jsonschema.Draft202012Validator(schema_for(version))
    error = jsonschema.exceptions.best_match(validator.iter_errors(dcc))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(gốc)"
        return Check("schema", False, f"Nội dung không đúng lược đồ DCC {version} tại {where}: {error.message}")
    kinds = [kind for kind in CERTIFICATE_TYPES if kind in dcc]
    if len(kinds) != 1:
        return Check("schema", False, "Chứng nhận phải có đúng một loại: tiêm chủng, xét nghiệm hoặc khỏi bệnh.")
    return Check("schema", True, f"Nội dung đúng lược đồ DCC {version}.")


@cache
def vaccination_value_sets() -> dict[str, dict[str, str]]:
    """Codes → display names of the EU value sets a vaccination entry uses (tg, vp, mp, ma)."""
    text = resources.files("tiemchung.health.certificates").joinpath("valuesets", "vaccination.json").read_text("utf-8")
    loaded: dict[str, dict[str, str]] = json.loads(text)
    return loaded


def check_value_sets(dcc: dict[str, Any]) -> Check:
    """The vaccination entry's codes must be in the EU value sets (EU business rule; not part of the schema)."""
    value_sets = vaccination_value_sets()
    unknown = [
        f"{field}={entry.get(field)}"
        for entry in dcc.get("v") or []
        if isinstance(entry, dict)
        for field in ("tg", "vp", "mp", "ma")
        if str(entry.get(field, "")) not in value_sets[field]
    ]
    if unknown:
        return Check("valuesets", False, f"Mã không có trong bộ mã EU: {', '.join(unknown)}.")
    return Check("valuesets", True, "Các mã vắc xin đúng bộ mã EU.")


def check_kid(message: Sign1Message, trust_list: TrustList) -> tuple[Check, list[TrustedSigner]]:
    kid = hcert.kid_of_message(message)
    if kid is None:
        return Check("kid", False, "Chứng nhận không có mã khóa ký (kid)."), []
    signers = trust_list.by_kid(kid)
    if not signers:
        return Check("kid", False, f"Khóa ký {kid.hex()} không có trong danh sách tin cậy."), []
    return Check("kid", True, f"Khóa ký {kid.hex()} có trong danh sách tin cậy ({signers[0].country})."), signers


def signature_is_valid(message: Sign1Message, certificate: x509.Certificate) -> bool:
    public_key = certificate.public_key()
    algorithm = message.phdr.get(Algorithm) or message.uhdr.get(Algorithm)
    if algorithm is Es256 and isinstance(public_key, ec.EllipticCurvePublicKey):
        return isinstance(public_key.curve, ec.SECP256R1) and hcert.es256_signature_is_valid(message, public_key)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        message.key = CoseKey.from_pem_public_key(pem.decode())
        return bool(message.verify_signature())
    except Exception:  # wrong key type, unsupported algorithm or malformed signature: all are "not valid"
        return False


def check_signature(message: Sign1Message, signers: list[TrustedSigner]) -> tuple[Check, TrustedSigner | None]:
    for signer in signers:
        if signature_is_valid(message, signer.certificate):
            return Check("signature", True, "Chữ ký số hợp lệ."), signer
    if not signers:
        return Check("signature", False, "Không kiểm tra được chữ ký: không có khóa tin cậy phù hợp."), None
    return Check("signature", False, "Chữ ký số không hợp lệ: nội dung đã bị sửa hoặc ký bằng khóa khác."), None


def certificate_type(dcc: dict[str, Any]) -> str | None:
    kinds = [kind for kind in CERTIFICATE_TYPES if kind in dcc]
    return kinds[0] if len(kinds) == 1 else None


def check_key_usage(dcc: dict[str, Any], certificate: x509.Certificate) -> Check:
    """The DSC's extended key usage must allow this type of certificate (a DSC without any allows all)."""
    kind = certificate_type(dcc)
    if kind is None:
        return Check("key_usage", False, "Không xác định được loại chứng nhận để đối chiếu mục đích của khóa.")
    usages = certificate_usages(certificate)
    if usages and not usages & EKU_BY_CERTIFICATE_TYPE[kind]:
        return Check("key_usage", False, f"Khóa ký không được phép ký loại chứng nhận này ({_KIND_VI[kind]}).")
    return Check("key_usage", True, f"Khóa ký được phép ký {_KIND_VI[kind]}.")


_KIND_VI = {"v": "chứng nhận tiêm chủng", "t": "chứng nhận xét nghiệm", "r": "chứng nhận khỏi bệnh"}


def check_expiry(claims: dict[Any, Any], now: datetime, certificate: x509.Certificate | None) -> Check:
    """Issued before `now`, not yet expired; the signing certificate valid when it signed and now.

    A certificate whose `exp` outlives its DSC is accepted while the DSC is valid (as the EU test data
    expects): the signature was made with a key valid at the time, and the DSC's own expiry is checked now.
    """
    issued, expires = claims.get(hcert.CLAIM_ISSUED_AT), claims.get(hcert.CLAIM_EXPIRY)
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        return Check("expiry", False, "Chứng nhận thiếu ngày cấp hoặc ngày hết hạn.")
    issued_at = datetime.fromtimestamp(issued, UTC)
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now < issued_at:
        return Check("expiry", False, f"Ngày cấp ({issued_at:%d/%m/%Y}) ở sau thời điểm kiểm tra.")
    if now > expires_at:
        return Check("expiry", False, f"Chứng nhận đã hết hạn ngày {expires_at:%d/%m/%Y}.")
    if certificate is not None:
        if not certificate.not_valid_before_utc <= issued_at <= certificate.not_valid_after_utc:
            return Check("expiry", False, "Chứng nhận được cấp ngoài thời hạn hiệu lực của khóa ký.")
        if now > certificate.not_valid_after_utc:
            return Check("expiry", False, f"Khóa ký đã hết hiệu lực ngày {certificate.not_valid_after_utc:%d/%m/%Y}.")
    return Check("expiry", True, f"Còn hiệu lực đến {expires_at:%d/%m/%Y}.")


def check_revocation(message: Sign1Message, claims: dict[Any, Any], revocations: RevocationList | None) -> Check:
    if revocations is None:
        return Check("revocation", True, "Chưa kiểm tra thu hồi: không có danh sách thu hồi để đối chiếu.")
    dcc = hcert.dcc_of(claims) or {}
    hashes = revocation_hashes(uvci_of(dcc), str(claims.get(hcert.CLAIM_ISSUER, "")), message.signature)
    if revocations.contains_any(hashes):
        return Check("revocation", False, "Chứng nhận đã bị thu hồi.")
    return Check("revocation", True, "Chứng nhận không có trong danh sách thu hồi.")


def uvci_of(dcc: dict[str, Any]) -> str:
    for kind in CERTIFICATE_TYPES:
        entries = dcc.get(kind)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            return str(entries[0].get("ci", ""))
    return ""


# --- the whole chain --------------------------------------------------------------------------------------


def verify_hc1(
    text: str, trust_list: TrustList, *, now: datetime | None = None, revocations: RevocationList | None = None
) -> VerificationReport:
    """Decode and verify an `HC1:` text offline; never raises on bad input."""
    checks: list[Check] = []
    message = _decode_layers(text, checks)
    if message is None:
        return VerificationReport(False, checks)
    claims = hcert.decode_claims(message)
    dcc = hcert.dcc_of(claims) if claims is not None else None
    if claims is None or dcc is None:
        checks.append(Check("cbor", False, "Nội dung ký không phải là một chứng nhận HCERT đọc được."))
        return VerificationReport(False, checks)
    checks.append(Check("cbor", True, "Đọc được nội dung chứng nhận."))
    checks.append(check_schema(dcc))
    checks.append(check_value_sets(dcc))
    kid_check, candidates = check_kid(message, trust_list)
    checks.append(kid_check)
    signature_check, signer = check_signature(message, candidates)
    checks.append(signature_check)
    if signer is not None:
        checks.append(check_key_usage(dcc, signer.certificate))
    moment = now or datetime.now(UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # a naive time is taken as UTC
    checks.append(check_expiry(claims, moment, signer.certificate if signer else None))
    checks.append(check_revocation(message, claims, revocations))
    readable_claims = {_CLAIM_NAMES.get(key, str(key)): value for key, value in claims.items() if key != -260}
    return VerificationReport(all(check.ok for check in checks), checks, dcc, readable_claims)


_CLAIM_NAMES = {hcert.CLAIM_ISSUER: "iss", hcert.CLAIM_ISSUED_AT: "iat", hcert.CLAIM_EXPIRY: "exp"}


def _decode_layers(text: str, checks: list[Check]) -> Sign1Message | None:
    """Prefix → Base45 → zlib → COSE, appending one check per layer; None at the first broken one."""
    if len(text) > hcert.MAX_HC1_CHARS:
        checks.append(Check("prefix", False, _TOO_LONG))
        return None
    body = hcert.strip_prefix(text)
    checks.append(Check("prefix", body is not None, _ok_or(body, "Có tiền tố HC1:.", "Mã không bắt đầu bằng HC1:.")))
    if body is None:
        return None
    compressed = hcert.decode_base45(body)
    checks.append(Check("base45", compressed is not None, _ok_or(compressed, "Giải mã Base45 được.", _B45_FAIL)))
    if compressed is None:
        return None
    try:
        cose = hcert.decompress(compressed)
    except hcert.PayloadTooLarge:
        checks.append(Check("zlib", False, _TOO_LARGE))
        return None
    checks.append(Check("zlib", cose is not None, _ok_or(cose, "Giải nén được.", "Dữ liệu nén bị hỏng.")))
    if cose is None:
        return None
    message = hcert.decode_cose(cose)
    checks.append(Check("cose", message is not None, _ok_or(message, "Đọc được COSE_Sign1.", _COSE_FAIL)))
    return message


_TOO_LONG = f"Mã dài quá {hcert.MAX_HC1_CHARS} ký tự: một mã QR chứng nhận không dài như vậy."
_TOO_LARGE = (
    f"Dữ liệu nén giải ra quá {hcert.MAX_COSE_BYTES // 1024} KiB: không phải một chứng nhận (đã dừng giải nén)."
)
_B45_FAIL = "Mã chứa ký tự không hợp lệ hoặc bị cắt cụt (Base45)."
_COSE_FAIL = "Dữ liệu không phải là một thông điệp ký COSE_Sign1."


def _ok_or(value: object, ok: str, failed: str) -> str:
    return ok if value is not None else failed

"""The HCERT container (EU DCC, hcert spec 1.3): CWT claims → COSE_Sign1 → zlib → Base45 → `HC1:` → QR code.

Every step is a library call (cbor2, pycose, zlib, base45, segno, zxing-cpp); this module only wires them in
the order the spec fixes, in both directions, so that the verifier can name the step where a code breaks.
Also here: the UVCI with its Luhn mod N check character.
"""

import io
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from pycose.algorithms import Es256, Ps256
from pycose.headers import KID, Algorithm
from pycose.keys import CoseKey
from pycose.messages import Sign1Message

from tiemchung.health.certificates.keys import DocumentSigner

PREFIX = "HC1:"
# Bounds for untrusted input (the public /verify): a QR code holds at most 4,296 characters, and a real certificate
# inflates to about 300 bytes. A zlib stream of a few kilobytes can inflate to gigabytes (the probe's 600 MiB took
# 1.3 GB and 3.5 s), and a 46 KB PNG can declare 15000 x 15000 pixels: both are refused before the work is done.
MAX_HC1_CHARS = 8_000
MAX_COSE_BYTES = 64 * 1024
MAX_IMAGE_PIXELS = 25_000_000  # a 6000 x 4000 phone photo still passes
CLAIM_ISSUER, CLAIM_EXPIRY, CLAIM_ISSUED_AT, CLAIM_HCERT = 1, 4, 6, -260
HCERT_DCC_KEY = 1
COSE_SIGN1_TAG, CWT_TAG = 18, 61


# --- building ---------------------------------------------------------------------------------------------


def cwt_claims(dcc: dict[str, Any], *, issuer: str, issued_at: datetime, expires_at: datetime) -> dict[int, Any]:
    """The CWT payload of an HCERT: issuer country, issue and expiry times (seconds), and the DCC itself."""
    return {
        CLAIM_ISSUER: issuer,
        CLAIM_ISSUED_AT: int(issued_at.timestamp()),
        CLAIM_EXPIRY: int(expires_at.timestamp()),
        CLAIM_HCERT: {HCERT_DCC_KEY: dcc},
    }


def cose_key_of(signer: DocumentSigner) -> CoseKey:
    # pycose reads keys from PEM; the unencrypted PEM only ever exists in this process's memory.
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CoseKey.from_pem_private_key(pem.decode())


def sign_cose(payload: bytes, signer: DocumentSigner) -> bytes:
    """A tagged COSE_Sign1 over `payload`, with the algorithm and kid in the protected header."""
    algorithm = Es256 if signer.algorithm == "ES256" else Ps256
    message = Sign1Message(phdr={Algorithm: algorithm, KID: signer.kid}, payload=payload)
    if isinstance(signer.private_key, ec.EllipticCurvePrivateKey):
        # pycose computes ES256 with the pure-Python `ecdsa` package (about 5 ms a signature); OpenSSL through
        # `cryptography` is far faster. pycose still builds the Sig_structure and encodes the message.
        der = signer.private_key.sign(message._create_sig_structure(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        message.signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return bytes(message.encode(tag=True, sign=False))
    message.key = signer.cose_key
    return bytes(message.encode(tag=True))


def es256_signature_is_valid(message: Sign1Message, public_key: ec.EllipticCurvePublicKey) -> bool:
    """ES256 verification through OpenSSL (see `sign_cose` for why not pycose's own)."""
    signature = message.signature
    if len(signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, message._create_sig_structure(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def to_hc1(cose: bytes) -> str:
    """COSE bytes → the text in the QR code: zlib (maximum compression), Base45, `HC1:` prefix."""
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


def qr_png(hc1: str, *, scale: int = 4) -> bytes:
    """The QR code image (PNG). Error correction Q, as the hcert spec recommends for printed codes."""
    import segno

    buffer = io.BytesIO()
    segno.make_qr(hc1, error="q", boost_error=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg(hc1: str) -> str:
    """The QR code as inline SVG with a viewBox and no fixed size: CSS sizes it and it scales whole.

    With width/height attributes and no viewBox, a box narrower than the code clipped it, and the printed page's
    QR could not be scanned (issue 15).
    """
    import segno

    buffer = io.BytesIO()
    segno.make_qr(hc1, error="q", boost_error=False).save(buffer, kind="svg", border=4, xmldecl=False, omitsize=True)
    return buffer.getvalue().decode("utf-8")


# --- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrReading:
    """What an image held: the QR's text, or why there is none (in Vietnamese)."""

    text: str | None
    problem_vi: str = ""


NO_QR_VI = "Không đọc được mã QR trong ảnh (ảnh PNG/JPEG có mã QR rõ nét)."


def read_qr(image_bytes: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> QrReading:
    """The first QR code of an image. The size in the header is checked before any pixel is decoded."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image_bytes)) as image:  # reads the header only
            width, height = image.size
            if width * height > max_pixels:
                return QrReading(None, _too_many_pixels(width, height, max_pixels))
            results = zxingcpp.read_barcodes(image.convert("L"))
    except Image.DecompressionBombError:  # Pillow's own limit, raised by open() beyond 2 x its pixel maximum
        return QrReading(None, _too_many_pixels(0, 0, max_pixels))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return QrReading(None, NO_QR_VI)
    return QrReading(results[0].text) if results else QrReading(None, NO_QR_VI)


def _too_many_pixels(width: int, height: int, max_pixels: int) -> str:
    size = f" ({width} × {height} điểm ảnh)" if width else ""
    return (
        f"Ảnh quá lớn{size}: chỉ nhận ảnh tối đa {max_pixels // 1_000_000} triệu điểm ảnh. "
        "Hãy chụp hoặc cắt ảnh chỉ chứa mã QR rồi tải lên lại."
    )


def read_qr_image(image_bytes: bytes) -> str | None:
    """The text of the first QR code in an image (PNG, JPEG...), or None when there is none or no image at all."""
    return read_qr(image_bytes).text


def strip_prefix(text: str) -> str | None:
    """The Base45 text after `HC1:`, or None when the prefix is missing."""
    stripped = text.strip()
    return stripped[len(PREFIX) :] if stripped.startswith(PREFIX) else None


def decode_base45(text: str) -> bytes | None:
    try:
        return bytes(base45.b45decode(text))
    except (ValueError, TypeError):
        return None


class PayloadTooLarge(ValueError):
    """The compressed data inflates beyond `MAX_COSE_BYTES`: no certificate is that large."""


def decompress(data: bytes, *, max_size: int = MAX_COSE_BYTES) -> bytes | None:
    """zlib-inflate at most `max_size` bytes (incrementally: a bomb never inflates in memory); None when broken.

    Raises PayloadTooLarge when the stream would give more than `max_size` bytes.
    """
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, max_size)
        if inflater.unconsumed_tail:
            raise PayloadTooLarge(max_size)
        inflated += inflater.flush()
    except zlib.error:
        return None
    if len(inflated) > max_size:
        raise PayloadTooLarge(max_size)
    return inflated


def decode_cose(data: bytes) -> Sign1Message | None:
    """A COSE_Sign1 message: tagged (18), wrapped in a CWT tag (61), or untagged; None when it is not one."""
    try:
        obj = cbor2.loads(data)
        while isinstance(obj, cbor2.CBORTag) and obj.tag in (CWT_TAG, COSE_SIGN1_TAG):
            obj = obj.value
        if not (isinstance(obj, list) and len(obj) == 4):
            return None
        return Sign1Message.from_cose_obj(obj, allow_unknown_attributes=True)
    except Exception:  # pycose and cbor2 raise many unrelated types on malformed input: all mean "not COSE"
        return None


def message_of(hc1: str) -> Sign1Message | None:
    """The COSE message inside an `HC1:` text, or None when any layer is broken."""
    body = strip_prefix(hc1)
    compressed = decode_base45(body) if body is not None else None
    try:
        cose = decompress(compressed) if compressed is not None else None
    except PayloadTooLarge:
        return None
    return decode_cose(cose) if cose is not None else None


def decode_claims(message: Sign1Message) -> dict[Any, Any] | None:
    if message.payload is None:
        return None
    try:
        claims = cbor2.loads(message.payload)
    except Exception:  # any CBOR error means an unreadable payload
        return None
    return claims if isinstance(claims, dict) else None


def dcc_of(claims: dict[Any, Any]) -> dict[str, Any] | None:
    """The DCC JSON object inside the claims (-260 → 1), or None when the structure is not an HCERT."""
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, dict) or len(hcert) != 1 or not isinstance(hcert.get(HCERT_DCC_KEY), dict):
        return None
    return _as_json(hcert[HCERT_DCC_KEY])


def _as_json(value: Any) -> Any:
    """The DCC as JSON: some issuers encode `sc` as a CBOR date-time tag, which the spec allows to read as text."""
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def kid_of_message(message: Sign1Message) -> bytes | None:
    kid = message.phdr.get(KID) or message.uhdr.get(KID)
    return bytes(kid) if isinstance(kid, bytes | bytearray) else None


# --- UVCI -------------------------------------------------------------------------------------------------

# Hand-written because no maintained library implements Luhn mod N over this alphabet (python-stdnum's
# luhn takes an alphabet, but it is not a dependency here); the algorithm is the eHN reference one.
UVCI_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"


def _luhn_mod_n_sum(text: str, first_factor: int) -> int:
    n = len(UVCI_ALPHABET)
    total, factor = 0, first_factor
    for character in reversed(text):
        addend = factor * UVCI_ALPHABET.index(character)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return total % n


def uvci_check_character(uvci_without_check: str) -> str:
    """The eHN UVCI check character of `URN:UVCI:01:VN:...` (Luhn mod 38 over the whole string)."""
    n = len(UVCI_ALPHABET)
    return UVCI_ALPHABET[(n - _luhn_mod_n_sum(uvci_without_check, 2)) % n]


def make_uvci(opaque: str, *, country: str = "VN", version: str = "01") -> str:
    """`URN:UVCI:01:VN:<opaque>#<check>`; the opaque part uses only A-Z, 0-9 and `/`."""
    body = f"URN:UVCI:{version}:{country}:{opaque.upper()}"
    return f"{body}#{uvci_check_character(body)}"


def uvci_is_valid(uvci: str) -> bool:
    body, _, check = uvci.partition("#")
    if len(check) != 1 or any(c not in UVCI_ALPHABET for c in body + check):
        return False
    return _luhn_mod_n_sum(body + check, 1) == 0

"""Signing keys: the country signing CA (CSCA), document signer certificates (DSC) and the published trust list.

Private keys live only in PKCS#8 files encrypted with a passphrase (environment variable
`TIEMCHUNG_KEY_PASSPHRASE`, or a file outside the repository); never in the repository, never in the database.
The DSC carries the EU DCC extended key usage for vaccination certificates, so that verifiers can refuse a
vaccination certificate signed by a key meant for tests or recoveries.
"""

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from pycose.keys import CoseKey

PASSPHRASE_ENV = "TIEMCHUNG_KEY_PASSPHRASE"
# EU DCC extended key usages (hcert spec, section 5.1.1): which kind of certificate a DSC may sign.
EKU_TEST = "1.3.6.1.4.1.1847.2021.1.1"
EKU_VACCINATION = "1.3.6.1.4.1.1847.2021.1.2"
EKU_RECOVERY = "1.3.6.1.4.1.1847.2021.1.3"
# The early drafts of the spec carried a stray ".0"; certificates with it exist in the EU test data.
EKU_BY_CERTIFICATE_TYPE = {
    "t": {EKU_TEST, "1.3.6.1.4.1.0.1847.2021.1.1"},
    "v": {EKU_VACCINATION, "1.3.6.1.4.1.0.1847.2021.1.2"},
    "r": {EKU_RECOVERY, "1.3.6.1.4.1.0.1847.2021.1.3"},
}

CSCA_KEY_FILE, CSCA_CERT_FILE = "csca.key.pem", "csca.crt.pem"
DSC_KEY_FILE, DSC_CERT_FILE = "dsc.key.pem", "dsc.crt.pem"
TRUST_LIST_FILE = "trustlist.json"
PASSPHRASE_FILE_ENV = "TIEMCHUNG_KEY_PASSPHRASE_FILE"

Algorithm = Literal["ES256", "PS256"]


class KeyMaterialError(Exception):
    """A key could not be created or read; the message is in Vietnamese, for the operator."""


def kid_of(certificate: x509.Certificate) -> bytes:
    """The hcert key identifier: the first 8 bytes of the SHA-256 of the DER certificate."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


@dataclass(frozen=True)
class DocumentSigner:
    """A DSC with its private key: what signs certificates."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def kid(self) -> bytes:
        return kid_of(self.certificate)

    @property
    def algorithm(self) -> Algorithm:
        return "ES256" if isinstance(self.private_key, ec.EllipticCurvePrivateKey) else "PS256"

    @property
    def not_valid_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @cached_property
    def cose_key(self) -> "CoseKey":
        """The key in pycose's form, converted once (issuing thousands of certificates reuses it)."""
        # local: hcert builds on this module's DocumentSigner, a cycle at import time
        from tiemchung.health.certificates.hcert import cose_key_of

        return cose_key_of(self)


@dataclass(frozen=True)
class TrustedSigner:
    """One entry of a trust list: a DSC that verifiers accept."""

    kid: bytes
    country: str
    certificate: x509.Certificate

    def to_json(self) -> dict[str, str]:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kid": base64.b64encode(self.kid).decode(),
            "country": self.country,
            "certificateType": "DSC",
            "thumbprint": hashlib.sha256(der).hexdigest(),
            "timestamp": self.certificate.not_valid_before_utc.isoformat(),
            "rawData": base64.b64encode(der).decode(),
        }


class TrustList:
    """The DSCs a verifier trusts, by kid (several DSCs may share a kid: all are tried)."""

    def __init__(self, signers: list[TrustedSigner]) -> None:
        self.signers = signers

    def by_kid(self, kid: bytes) -> list[TrustedSigner]:
        return [signer for signer in self.signers if signer.kid == kid]

    def to_json(self) -> list[dict[str, str]]:
        return [signer.to_json() for signer in self.signers]

    @classmethod
    def from_json(cls, entries: list[dict[str, Any]]) -> "TrustList":
        """Read a trust list in the EU gateway's layout (kid, country, rawData = base64 DER)."""
        signers = []
        for entry in entries:
            certificate = x509.load_der_x509_certificate(base64.b64decode(entry["rawData"]))
            kid = base64.b64decode(entry["kid"]) if entry.get("kid") else kid_of(certificate)
            signers.append(TrustedSigner(kid=kid, country=str(entry.get("country", "")), certificate=certificate))
        return cls(signers)

    @classmethod
    def load(cls, path: Path) -> "TrustList":
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def of_certificates(cls, certificates: list[x509.Certificate], country: str = "VN") -> "TrustList":
        return cls([TrustedSigner(kid_of(cert), country, cert) for cert in certificates])


@dataclass(frozen=True)
class KeyLayout:
    """Where each key lives under the one keys directory (`TIEMCHUNG_KEYS_DIR`, `--keys-dir`).

    The web and every command resolve their paths here and nowhere else: the web once looked for the trust list
    in the directory itself while `cert keys init` wrote it into `certificates/`, and /verify refused every genuine
    certificate. Layout: `certificates/` (CSCA, DSC, trust list), `facilities/<code>.key.pem` (each facility's
    daily-signing key, encrypted with the facility's own passphrase), `cleaning/` (the police's list keys).
    """

    root: Path

    @property
    def certificates(self) -> Path:
        return self.root / "certificates"

    @property
    def trust_list(self) -> Path:
        return self.certificates / TRUST_LIST_FILE

    @property
    def facilities(self) -> Path:
        return self.root / "facilities"

    def facility_key(self, facility_code: str) -> Path:
        # Facility codes come from imported files: keep only safe characters in the file name.
        safe = "".join(char if char.isalnum() or char in "-_" else "_" for char in facility_code)
        return self.facilities / f"{safe}.key.pem"

    def load_trust_list(self) -> TrustList:
        """The published trust list; empty when the certificate keys were never created."""
        return TrustList.load(self.trust_list) if self.trust_list.exists() else TrustList([])


def passphrase_from(passphrase_file: Path | None = None) -> bytes:
    """The key passphrase: from a file given explicitly, else from TIEMCHUNG_KEY_PASSPHRASE."""
    if passphrase_file is not None:
        if inside_git_work_tree(passphrase_file):
            raise KeyMaterialError(f"Tệp mật khẩu {passphrase_file} nằm trong kho mã nguồn: hãy để nó ở ngoài kho.")
        value = passphrase_file.read_text(encoding="utf-8").strip()
    else:
        value = os.environ.get(PASSPHRASE_ENV, "")
    if len(value) < 8:
        raise KeyMaterialError(
            f"Thiếu mật khẩu khóa (ít nhất 8 ký tự): đặt biến môi trường {PASSPHRASE_ENV} "
            "hoặc dùng --passphrase-file với một tệp nằm ngoài kho mã nguồn."
        )
    return value.encode()


def inside_git_work_tree(path: Path) -> bool:
    """True when `path` is inside a git work tree: private material must never be committed by accident."""
    resolved = path.resolve()
    return any((parent / ".git").exists() for parent in (resolved, *resolved.parents))


def new_private_key(algorithm: Algorithm) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _name(common_name: str, country: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bộ Y tế - Cục Y tế dự phòng"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_identifiers(builder: x509.CertificateBuilder, subject_key: Any, issuer_key: Any) -> x509.CertificateBuilder:
    return builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
    )


def make_csca(
    private_key: CertificateIssuerPrivateKeyTypes, *, country: str, now: dt.datetime, years: int = 10
) -> x509.Certificate:
    """A self-signed country signing CA certificate."""
    name = _name(f"CSCA {country} DCC", country)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
    )
    builder = _key_identifiers(builder, private_key.public_key(), private_key.public_key())
    return builder.sign(private_key, hashes.SHA256())


def make_dsc(
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    csca_key: CertificateIssuerPrivateKeyTypes,
    csca: x509.Certificate,
    country: str,
    now: dt.datetime,
    days: int = 2 * 365,
    usages: tuple[str, ...] = (EKU_VACCINATION,),
) -> x509.Certificate:
    """A document signer certificate issued by the CSCA, allowed to sign the given certificate types."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(f"DSC {country} DCC {now:%Y%m%d%H%M%S}", country))
        .issuer_name(csca.subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_SIGNER_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in usages]), critical=False)
    )
    builder = _key_identifiers(builder, private_key.public_key(), csca_key.public_key())
    return builder.sign(csca_key, hashes.SHA256())


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
_SIGNER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def encrypted_pem(private_key: Any, passphrase: bytes) -> bytes:
    """PKCS#8, encrypted with the passphrase (the best encryption `cryptography` offers)."""
    return bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def init_keys(
    directory: Path,
    passphrase: bytes,
    *,
    country: str = "VN",
    algorithm: Algorithm = "ES256",
    now: dt.datetime | None = None,
) -> DocumentSigner:
    """Create a CSCA, a vaccination DSC and the trust list in `directory` (outside any git work tree)."""
    if inside_git_work_tree(directory):
        raise KeyMaterialError(
            f"Thư mục {directory} nằm trong kho mã nguồn: khóa bí mật không bao giờ được để trong kho."
        )
    if (directory / DSC_KEY_FILE).exists():
        raise KeyMaterialError(f"Thư mục {directory} đã có khóa; không ghi đè. Hãy chọn thư mục khác.")
    moment = now or dt.datetime.now(dt.UTC)
    csca_key = new_private_key(algorithm)
    csca = make_csca(csca_key, country=country, now=moment)
    dsc_key = new_private_key(algorithm)
    dsc = make_dsc(dsc_key, csca_key=csca_key, csca=csca, country=country, now=moment)
    directory.mkdir(parents=True, exist_ok=True)
    _write_private(directory / CSCA_KEY_FILE, encrypted_pem(csca_key, passphrase))
    _write_private(directory / DSC_KEY_FILE, encrypted_pem(dsc_key, passphrase))
    (directory / CSCA_CERT_FILE).write_bytes(certificate_pem(csca))
    (directory / DSC_CERT_FILE).write_bytes(certificate_pem(dsc))
    trust_list = TrustList.of_certificates([dsc], country)
    (directory / TRUST_LIST_FILE).write_text(json.dumps(trust_list.to_json(), indent=2), encoding="utf-8")
    return DocumentSigner(dsc_key, dsc)


def rotate_dsc(
    directory: Path, passphrase: bytes, *, country: str = "VN", now: dt.datetime | None = None
) -> DocumentSigner:
    """A new DSC from the existing CSCA; the old one stays in the trust list, so its certificates still verify.

    The old DSC's files are kept as `dsc-<kid hex>.key.pem` / `.crt.pem` (its key is no longer used to sign).
    """
    csca_key = load_private_key(directory / CSCA_KEY_FILE, passphrase)
    csca = x509.load_pem_x509_certificate((directory / CSCA_CERT_FILE).read_bytes())
    old = x509.load_pem_x509_certificate((directory / DSC_CERT_FILE).read_bytes())
    algorithm: Algorithm = "ES256" if isinstance(csca_key, ec.EllipticCurvePrivateKey) else "PS256"
    dsc_key = new_private_key(algorithm)
    dsc = make_dsc(dsc_key, csca_key=csca_key, csca=csca, country=country, now=now or dt.datetime.now(dt.UTC))
    archive = f"dsc-{kid_of(old).hex()}"
    (directory / DSC_KEY_FILE).rename(directory / f"{archive}.key.pem")
    (directory / DSC_CERT_FILE).rename(directory / f"{archive}.crt.pem")
    _write_private(directory / DSC_KEY_FILE, encrypted_pem(dsc_key, passphrase))
    (directory / DSC_CERT_FILE).write_bytes(certificate_pem(dsc))
    trust_list = TrustList.load(directory / TRUST_LIST_FILE)
    trust_list.signers.append(TrustedSigner(kid_of(dsc), country, dsc))
    (directory / TRUST_LIST_FILE).write_text(json.dumps(trust_list.to_json(), indent=2), encoding="utf-8")
    return DocumentSigner(dsc_key, dsc)


def _write_private(path: Path, data: bytes) -> None:
    # Owner-only permissions from the start: the file never exists world-readable, even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def load_private_key(path: Path, passphrase: bytes) -> Any:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), passphrase)
    except FileNotFoundError as missing:
        raise KeyMaterialError(f"Không tìm thấy khóa {path}: chạy `tiemchung cert keys init` trước.") from missing
    except (ValueError, TypeError) as wrong:
        raise KeyMaterialError(f"Không mở được khóa {path}: sai mật khẩu hoặc tệp hỏng.") from wrong


def load_signer(directory: Path, passphrase: bytes) -> DocumentSigner:
    """The DSC and its decrypted private key from a keys directory made by `init_keys`."""
    private_key = load_private_key(directory / DSC_KEY_FILE, passphrase)
    certificate = x509.load_pem_x509_certificate((directory / DSC_CERT_FILE).read_bytes())
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyMaterialError("Khóa DSC phải là ECDSA P-256 (ES256) hoặc RSA (PS256).")
    return DocumentSigner(private_key, certificate)


def certificate_usages(certificate: x509.Certificate) -> set[str]:
    """The extended key usage OIDs of a certificate (empty when it has none)."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return set()
    except ValueError:
        # An empty EKU sequence is malformed DER; the EU test data treats it as "no OID present" (all allowed).
        return set()
    return {oid.dotted_string for oid in extension.value}

"""Mutual TLS: served with `--tls-ca`, the register accepts only callers presenting a certificate from that CA."""

import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tiemchung.register.keys import KeyStore
from tiemchung.register.process import ServiceProcess
from tiemchung.register.sample import SAMPLE_SUBJECTS


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(signer or key, hashes.SHA256()), key


def _write(directory: Path, name: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    (directory / f"{name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    directory.mkdir()
    ca_certificate, ca_key = _issue("Register callers CA", _name("Register callers CA"), None, ca=True)
    _write(directory, "ca", ca_certificate, ca_key)
    _write(directory, "server", *_issue("127.0.0.1", ca_certificate.subject, ca_key, server=True))
    _write(directory, "health", *_issue("Bo Y te", ca_certificate.subject, ca_key))
    _write(directory, "stranger", *_issue("Stranger", _name("Stranger"), None))
    return directory


def _context(pki: Path, client: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki / "ca.crt")
    if client is not None:
        context.load_cert_chain(pki / f"{client}.crt", pki / f"{client}.key")
    return context


@pytest.mark.slow
def test_only_callers_with_a_certificate_from_the_ca_get_in(
    tmp_path: Path, sample_files: tuple[Path, Path], pki: Path
) -> None:
    register, _ = sample_files
    workdir = tmp_path / "register-workdir"
    key = KeyStore(workdir / "keys.json").add("Bộ Y tế")
    tls = ["--tls-cert", str(pki / "server.crt"), "--tls-key", str(pki / "server.key"), "--tls-ca", str(pki / "ca.crt")]
    query, expected = SAMPLE_SUBJECTS[0]
    body = {name: value for name, value in query.__dict__.items() if value is not None}
    headers = {"Authorization": f"Bearer {key}"}
    with ServiceProcess(register, workdir, extra_args=tls, https=_context(pki, "health")) as service:
        url = f"{service.base_url}/v1/verify"
        answer = httpx.post(url, json=body, headers=headers, verify=_context(pki, "health"))
        assert answer.status_code == 200 and answer.json()["category"] == expected.value
        for client in (None, "stranger"):
            with pytest.raises(httpx.TransportError):
                httpx.post(url, json=body, headers=headers, verify=_context(pki, client))

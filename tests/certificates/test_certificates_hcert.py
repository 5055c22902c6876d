"""The HCERT building blocks and the verifier's explanations, without a database."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import base45
import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.keys import (
    DSC_KEY_FILE,
    DocumentSigner,
    KeyMaterialError,
    TrustList,
    init_keys,
    kid_of,
    load_private_key,
    load_signer,
    rotate_dsc,
)
from tiemchung.health.certificates.revocation import RevocationList, revocation_hashes
from tiemchung.health.certificates.verifier import verify_hc1

NOW = datetime(2021, 10, 1, tzinfo=UTC)
DCC = {
    "ver": "1.3.0",
    "nam": {"fn": "Lê", "fnt": "LE", "gn": "Minh Châu", "gnt": "MINH<CHAU"},
    "dob": "1970",
    "v": [
        {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2, "sd": 2,
         "dt": "2021-08-01", "co": "VN", "is": "Cục Y tế dự phòng", "ci": hcert.make_uvci("CYTDP/ABC123")}
    ],
}  # fmt: skip


def _hc1(signer: DocumentSigner, *, issued: datetime = NOW, days: int = 365, dcc: dict = DCC) -> str:  # type: ignore[type-arg]
    claims = hcert.cwt_claims(dcc, issuer="VN", issued_at=issued, expires_at=issued + timedelta(days=days))
    return hcert.to_hc1(hcert.sign_cose(cbor2.dumps(claims), signer))


def test_uvci_check_character_matches_issued_eu_certificates() -> None:
    # Check characters of real UVCIs in the EU test data (Austria, Denmark...); the eHN reference code gives
    # "H" for its own docstring example "URN:UVCI:01:NL:MY/INPUT/STRING", whose stated "S" is stale.
    assert hcert.uvci_check_character("URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813") == "B"
    assert hcert.uvci_check_character("URN:UVCI:01:AT:858CC18CFCF5965EF82F60E493349AA5") == "K"
    assert hcert.uvci_check_character("URN:UVCI:01:NL:MY/INPUT/STRING") == "H"
    assert not hcert.uvci_is_valid("URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD814#B")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/", min_size=1, max_size=40))
def test_every_uvci_we_make_is_valid_and_one_changed_character_is_caught(opaque: str) -> None:
    uvci = hcert.make_uvci(opaque)
    assert uvci.startswith("URN:UVCI:01:VN:") and hcert.uvci_is_valid(uvci)
    body, check = uvci.split("#")
    position = len("URN:UVCI:01:VN:")
    replacement = "B" if body[position] != "B" else "C"
    assert not hcert.uvci_is_valid(body[:position] + replacement + body[position + 1 :] + "#" + check)


def test_the_qr_image_reads_back_to_the_same_text(signer: DocumentSigner) -> None:
    text = _hc1(signer)
    assert hcert.read_qr_image(hcert.qr_png(text)) == text
    assert hcert.read_qr_image(b"not an image") is None


def test_a_valid_certificate_passes_every_check(signer: DocumentSigner, trust_list: TrustList) -> None:
    report = verify_hc1(_hc1(signer), trust_list, now=NOW + timedelta(days=1), revocations=RevocationList(set()))
    assert report.valid
    assert verify_hc1(_hc1(signer), trust_list, now=datetime(2021, 10, 2)).valid  # naive: taken as UTC
    assert [check.name for check in report.checks] == [
        "prefix", "base45", "zlib", "cose", "cbor", "schema", "valuesets",
        "kid", "signature", "key_usage", "expiry", "revocation",
    ]  # fmt: skip


def test_each_kind_of_damage_is_explained_in_vietnamese(
    signer: DocumentSigner, trust_list: TrustList, tmp_path: Path
) -> None:
    text = _hc1(signer)
    cases = {
        "HC2:" + text[4:]: "Mã không bắt đầu bằng HC1:.",
        text[:-3] + "!!!": "Mã chứa ký tự không hợp lệ hoặc bị cắt cụt (Base45).",
        "HC1:" + text[4:60]: "Mã chứa ký tự không hợp lệ hoặc bị cắt cụt (Base45).",
    }
    for damaged, message in cases.items():
        assert message in [check.message_vi for check in verify_hc1(damaged, trust_list, now=NOW).failed()]
    other = TrustList.of_certificates([init_keys(tmp_path / "other", b"another passphrase", now=NOW).certificate])
    unknown = verify_hc1(text, other, now=NOW)
    assert unknown.failed()[0].message_vi.endswith("không có trong danh sách tin cậy.")
    expired = verify_hc1(text, trust_list, now=NOW + timedelta(days=400))
    assert [check.name for check in expired.failed()] == ["expiry"]
    assert expired.failed()[0].message_vi.startswith("Chứng nhận đã hết hạn ngày")
    broken_schema = verify_hc1(_hc1(signer, dcc={**DCC, "dob": "ngày 1"}), trust_list, now=NOW)
    assert [check.name for check in broken_schema.failed()] == ["schema"]
    unknown_vaccine = {**DCC, "v": [{**DCC["v"][0], "mp": "Vắc xin lạ"}]}
    [failed] = verify_hc1(_hc1(signer, dcc=unknown_vaccine), trust_list, now=NOW).failed()
    assert failed.message_vi == "Mã không có trong bộ mã EU: mp=Vắc xin lạ."


def test_a_forged_payload_fails_the_signature(signer: DocumentSigner, trust_list: TrustList) -> None:
    message = hcert.message_of(_hc1(signer))
    assert message is not None
    forged = cbor2.loads(message.payload or b"")
    forged[-260][1]["nam"]["fnt"] = "KHAC"
    message.payload = cbor2.dumps(forged)
    tampered = hcert.to_hc1(
        cbor2.dumps(cbor2.CBORTag(18, [message.phdr_encoded, {}, message.payload, message.signature]))
    )
    report = verify_hc1(tampered, trust_list, now=NOW)
    assert [check.name for check in report.failed()] == ["signature"]


def test_ps256_keys_sign_verifiable_certificates(tmp_path: Path) -> None:
    rsa_signer = init_keys(tmp_path / "rsa", b"rsa passphrase", algorithm="PS256", now=NOW)
    report = verify_hc1(_hc1(rsa_signer), TrustList.of_certificates([rsa_signer.certificate]), now=NOW)
    assert rsa_signer.algorithm == "PS256" and report.valid


def test_private_keys_are_encrypted_and_the_trust_list_reloads(keys_dir: Path, signer: DocumentSigner) -> None:
    with pytest.raises(KeyMaterialError):
        load_private_key(keys_dir / DSC_KEY_FILE, b"wrong passphrase")
    assert load_signer(keys_dir, b"correct horse battery staple").kid == signer.kid
    entries = json.loads((keys_dir / "trustlist.json").read_text())
    assert entries[0]["country"] == "VN" and set(entries[0]) >= {"kid", "rawData"}
    reloaded = TrustList.from_json(entries)
    assert reloaded.signers[0].kid == kid_of(signer.certificate) == signer.kid
    with pytest.raises(KeyMaterialError):
        init_keys(keys_dir, b"correct horse battery staple")  # never overwrites existing keys


def test_a_rotated_dsc_signs_new_certificates_and_old_ones_still_verify(tmp_path: Path) -> None:
    old = init_keys(tmp_path / "k", b"rotation passphrase", now=NOW)
    old_certificate = _hc1(old)
    new = rotate_dsc(tmp_path / "k", b"rotation passphrase", now=NOW + timedelta(days=1))
    trust = TrustList.load(tmp_path / "k" / "trustlist.json")
    assert new.kid != old.kid and load_signer(tmp_path / "k", b"rotation passphrase").kid == new.kid
    later = NOW + timedelta(days=2)
    assert verify_hc1(old_certificate, trust, now=later).valid
    assert verify_hc1(_hc1(new, issued=later), trust, now=later).valid


def test_revocation_hashes_follow_the_dcc_revocation_spec() -> None:
    signature = bytes(range(64))
    hashes = revocation_hashes("URN:UVCI:01:VN:X#Y", "VN", signature)
    import base64
    import hashlib

    def short(data: bytes) -> str:
        return base64.b64encode(hashlib.sha256(data).digest()[:16]).decode()

    assert hashes == {
        "UCI": short(b"URN:UVCI:01:VN:X#Y"),
        "COUNTRYCODEUCI": short(b"VNURN:UVCI:01:VN:X#Y"),
        "SIGNATURE": short(signature[:32]),
    }


@given(st.one_of(st.text(max_size=300), st.text(alphabet=base45.BASE45_CHARSET, max_size=300).map("HC1:".__add__)))
def test_the_verifier_never_raises_on_arbitrary_text(text: str) -> None:
    report = verify_hc1(text, TrustList([]))
    assert not report.valid and report.failed()


@given(st.binary(max_size=400))
def test_the_verifier_never_raises_on_arbitrary_compressed_bytes(data: bytes) -> None:
    import zlib

    text = "HC1:" + base45.b45encode(zlib.compress(data)).decode()
    assert not verify_hc1(text, TrustList([])).valid


_CBOR_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20) | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.integers(-300, 10) | st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_CBOR_VALUES, _CBOR_VALUES, st.binary(max_size=80))
def test_the_verifier_never_raises_on_arbitrary_cose_content(header: object, claims: object, signature: bytes) -> None:
    cose = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps(header), {}, cbor2.dumps(claims), signature]))
    text = hcert.to_hc1(cose)
    assert not verify_hc1(text, TrustList([])).valid

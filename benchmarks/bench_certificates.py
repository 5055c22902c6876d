"""Certificate issuing speed: signed certificates per second, and dose entry → signed QR latency.

Usage: .venv/bin/python benchmarks/bench_certificates.py [--subjects 500] [--latency-runs 30] [--database URL]

Builds a fresh registry (SQLite in a temporary folder by default), a key set made by `init_keys`, one facility
with its key, and `--subjects` verified people with one dose each. Then measures:
1. the HCERT pipeline alone (CBOR, COSE_Sign1 ES256, zlib, Base45), no database;
2. `issue_certificate` on the database, one transaction per certificate (as the web page does), then
   200 per transaction (as `tiemchung cert issue` does);
3. the latency for one verified person: insert the dose, the facility signs the day, central issuance,
   QR PNG rendered; median and 95th percentile over `--latency-runs`;
4. `verify_hc1` of the issued certificates.
"""

import argparse
import itertools
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cbor2

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.issuance import build_dcc, issue_certificate
from tiemchung.health.certificates.keys import TrustList, init_keys
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.signing import new_facility_key, public_key_pem, sign_facility_day
from tiemchung.health.certificates.verifier import verify_hc1
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory, transaction
from tiemchung.health.registry.models import Dose, Facility, Subject
from tiemchung.reference.vaccines import vaccine_by_name

FACILITY = "BENCH"


def _subject(number: int) -> Subject:
    name = f"Nguyễn Văn Thử {number}"
    return Subject(subject_key=f"B{number:07d}", full_name_raw=name, full_name=name, name_canonical=name.lower(),
                   name_folded=name.lower(), birth_date="1980-01-01", birth_year=1980, sex="M",
                   id_number=f"0010800{number:05d}", verification_category="VERIFIED")  # fmt: skip


def _dose(subject: Subject, number: int, day: date) -> Dose:
    return Dose(record_id=f"BR{number:07d}", subject_id=subject.id, vaccine="Janssen", vaccination_date=day,
                dose_kind="1", facility_code=FACILITY)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--database", default="")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(arguments.subjects, arguments.latency_runs, arguments.database or f"sqlite:///{Path(folder) / 'b.sqlite'}",
            Path(folder))  # fmt: skip


def run(count: int, latency_runs: int, url: str, folder: Path) -> None:
    engine = make_engine(url)
    create_schema(engine)
    factory = make_session_factory(engine)
    signer = init_keys(folder / "keys", b"benchmark passphrase")
    facility_key = new_facility_key()
    day = date.today() - timedelta(days=1)
    with transaction(factory) as session:
        session.add(
            Facility(code=FACILITY, name="Cơ sở đo", province_code="01", public_key_pem=public_key_pem(facility_key))
        )
        subjects = [_subject(number) for number in range(count)]
        session.add_all(subjects)
        session.flush()
        session.add_all([_dose(subject, number, day) for number, subject in enumerate(subjects)])
        session.flush()
        started = time.perf_counter()
        sign_facility_day(session, FACILITY, day, facility_key)
        signing_seconds = time.perf_counter() - started
    print(f"facility day signature over {count} doses: {signing_seconds:.3f} s")

    vaccine = vaccine_by_name("Janssen")
    assert vaccine is not None
    with factory() as session:
        pairs = [(subject, dose) for subject, dose in session.query(Subject, Dose).join(Dose).all()]
        now = datetime.now(UTC)
        started = time.perf_counter()
        for subject, dose in pairs:
            dcc = build_dcc(subject, dose, vaccine, dose_number=1, total=1, uvci=hcert.make_uvci("BENCH/X"))
            claims = hcert.cwt_claims(dcc, issuer="VN", issued_at=now, expires_at=now + timedelta(days=365))
            hcert.to_hc1(hcert.sign_cose(cbor2.dumps(claims), signer))
        pipeline = time.perf_counter() - started
    print(f"HCERT pipeline (no database): {count / pipeline:.0f} certificates/s")

    started = time.perf_counter()
    for subject, dose in pairs:
        with transaction(factory) as session:
            assert issue_certificate(session, subject.id, dose.id, signer=signer).ok
    issuing = time.perf_counter() - started
    print(f"issue_certificate, a transaction each ({engine.dialect.name}): {count / issuing:.0f} certificates/s")

    with transaction(factory) as session:  # revoke them all, so that the same doses can be issued again
        for certificate in session.query(Certificate):
            certificate.revoked_at = datetime.now(UTC)
    started = time.perf_counter()
    for batch in itertools.batched(pairs, 200):
        with transaction(factory) as session:
            for subject, dose in batch:
                assert issue_certificate(session, subject.id, dose.id, signer=signer).ok
    batched = time.perf_counter() - started
    print(f"issue_certificate, 200 per transaction as the CLI does: {count / batched:.0f} certificates/s")

    latencies = []
    for run_number in range(latency_runs):
        started = time.perf_counter()
        with transaction(factory) as session:
            subject = _subject(count + run_number)
            session.add(subject)
            session.flush()
            dose = _dose(subject, count + run_number, day)
            session.add(dose)
            session.flush()
        with transaction(factory) as session:
            assert sign_facility_day(session, FACILITY, day, facility_key).ok
        with transaction(factory) as session:
            result = issue_certificate(session, subject.id, dose.id, signer=signer)
            assert result.certificate is not None
            hcert.qr_png(result.certificate.hc1)
        latencies.append(time.perf_counter() - started)
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else max(latencies)
    print(f"dose entry → signed QR: median {statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")

    trust = TrustList.of_certificates([signer.certificate])
    with factory() as session:
        texts = [certificate.hc1 for certificate in session.query(Certificate).limit(count)]
    started = time.perf_counter()
    assert all(verify_hc1(text, trust).valid for text in texts)
    print(f"verify_hc1: {len(texts) / (time.perf_counter() - started):.0f} certificates/s")
    engine.dispose()


if __name__ == "__main__":
    main()

"""The web world of the certificate pages: the web tests' world, with certificate keys in the documented layout
(`KeyLayout`), a facility key on the server, and a verified person with one signed and one unsigned dose."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from tests.support.ports import free_port
from tests.support.web_world import World, build_world
from tiemchung.health.certificates.keys import KeyLayout, init_keys
from tiemchung.health.certificates.signing import (
    new_facility_key,
    public_key_pem,
    sign_facility_day,
    write_facility_key,
)
from tiemchung.health.registry.models import Dose, Facility, Subject

PASSPHRASE = "mat-khau-khoa-web"
FACILITY_PASSPHRASE = "mat-khau-cua-co-so-F-home"


def certificate_world(session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("TIEMCHUNG_KEY_PASSPHRASE", PASSPHRASE)
    keys_dir = tmp_path / "keys"
    init_keys(KeyLayout(keys_dir).certificates, PASSPHRASE.encode())
    world = build_world(session_factory, keys_dir)
    facility_key = new_facility_key()
    write_facility_key(KeyLayout(keys_dir), "F-home", facility_key, FACILITY_PASSPHRASE.encode())
    with session_factory() as session:
        subject = session.get(Subject, world.ids["home"]["subject_id"])
        facility = session.get(Facility, "F-home")
        assert subject is not None and facility is not None
        subject.verification_category, subject.id_number = "VERIFIED", "001080000123"
        facility.public_key_pem = public_key_pem(facility_key)
        session.add(Dose(record_id="W1", subject_id=subject.id, vaccine="Janssen", vaccination_date=date(2022, 3, 1),
                         dose_kind="1", facility_code="F-home"))  # fmt: skip
        session.add(Dose(record_id="W2", subject_id=subject.id, vaccine="Janssen", vaccination_date=date(2022, 3, 2),
                         dose_kind="booster_1", facility_code="F-home"))  # fmt: skip
        session.flush()
        assert sign_facility_day(session, "F-home", date(2022, 3, 1), facility_key).ok
        session.commit()
    return world


@contextmanager
def serve(world: World) -> Iterator[str]:
    """The world's app served by uvicorn on a thread (for Chromium and for concurrent clients); its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""A dose entry sent twice is stored once: the API's Idempotency-Key and the dose forms' hidden token.

A retry is what a user does after a 503 whose outcome is unknown (the database may have committed before the answer
was lost), so it must return the dose already stored; the same key with another entry is refused; keys are per user;
two requests racing with one key store one dose (on PostgreSQL the unique key decides while both are in flight).
"""

import html
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import add_user
from tests.support.web_world import World, build_world
from tiemchung.health.registry.entry_keys import prune_entry_keys
from tiemchung.health.registry.models import Dose, DoseEntryKey, Role, Subject, User
from tiemchung.health.web.subjects_service import ENTERED_BEFORE
from tiemchung.health.web.verifier import QueueOnlyVerifier, VerifyOutcome

DOSE = {"vaccine": "Pfizer", "vaccination_date": "2022-01-10", "dose_kind": "booster_1", "lot_number": "L-1"}
KEY = "0b6c1f0e-7d7a-4c1b-9a52-3f0b7c9d2e11"


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    return build_world(session_factory, tmp_path / "keys")


def doses_of(world: World, subject_id: int) -> list[Dose]:
    with world.app.state.session_factory() as session:
        return list(session.scalars(select(Dose).where(Dose.subject_id == subject_id).order_by(Dose.id)))


def enter(
    client: TestClient, subject_id: int, key: str | bytes | None, body: dict[str, str] | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"/api/v1/subjects/{subject_id}/doses", json=body or DOSE, headers=headers)


def test_a_retry_with_the_same_key_returns_the_dose_already_stored(world: World) -> None:
    client, subject_id = world.client("facility"), world.ids["home"]["subject_id"]
    first = enter(client, subject_id, KEY)
    again = enter(client, subject_id, KEY)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["dose"] == first.json()["dose"]
    assert set(again.json()) == set(first.json())
    assert again.json()["verification_message"].startswith(ENTERED_BEFORE)
    assert [dose.id for dose in doses_of(world, subject_id)] == [first.json()["dose"]["id"]]
    with world.app.state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DoseEntryKey)) == 1
    # Without a key, each request is a new entry, as before.
    assert enter(client, subject_id, None).status_code == 201
    assert enter(client, subject_id, None).status_code == 201
    assert len(doses_of(world, subject_id)) == 3


def test_the_same_key_with_another_entry_is_refused(world: World) -> None:
    client, subject_id = world.client("facility"), world.ids["home"]["subject_id"]
    assert enter(client, subject_id, KEY).status_code == 201
    other_subject = add_subject_in_home_area(world)
    for body, subject in (({**DOSE, "lot_number": "L-2"}, subject_id), (DOSE, other_subject)):
        refused = enter(client, subject, KEY, body)
        assert refused.status_code == 409, refused.text
        assert "đã được dùng cho một yêu cầu có nội dung khác" in refused.json()["detail"]
    assert len(doses_of(world, subject_id)) == 1 and doses_of(world, other_subject) == []


def test_a_malformed_key_is_a_422_in_vietnamese(world: World) -> None:
    client, subject_id = world.client("facility"), world.ids["home"]["subject_id"]
    for key in ("", "x" * 65, "có dấu".encode(), "a b", "a/b"):
        refused = enter(client, subject_id, key)
        assert refused.status_code == 422, (key, refused.text)
        assert "Idempotency-Key không hợp lệ" in refused.json()["detail"]
    assert enter(client, subject_id, "x" * 64).status_code == 201
    assert len(doses_of(world, subject_id)) == 1


def test_keys_of_different_users_do_not_collide(world: World) -> None:
    with world.app.state.session_factory() as session:
        facility = session.scalars(select(User).where(User.username == "facility")).one()
        add_user(session, "facility_2", Role.FACILITY, facility.area_code, facility_code=facility.facility_code)
        session.commit()
    subject_id = world.ids["home"]["subject_id"]
    first = enter(world.client("facility"), subject_id, KEY)
    second = enter(world.client("facility_2"), subject_id, KEY)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["dose"]["id"] != second.json()["dose"]["id"]
    assert sorted(dose.entered_by for dose in doses_of(world, subject_id)) == ["facility", "facility_2"]
    # ...and each user's retry finds their own dose.
    assert enter(world.client("facility_2"), subject_id, KEY).json()["dose"] == second.json()["dose"]


def add_subject_in_home_area(world: World) -> int:
    from tests.support.cleaning_factories import add_subject

    with world.app.state.session_factory() as session:
        subject = add_subject(session, "home-3")
        session.commit()
        return subject.id


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert found is not None, "the dose form has no idempotency token"
    return found.group(1)


def flashes(page: httpx.Response) -> list[str]:
    return [html.unescape(message) for message in re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', page.text)]


def test_a_retry_with_a_pruned_key_is_a_new_entry(world: World) -> None:
    """Keys are pruned after some days (`tiemchung db prune-entry-keys`, 30 by default): a request replayed with a
    pruned key is a new entry, a second dose, as a request without a key would be. A key still kept replays."""
    client, subject_id = world.client("facility"), world.ids["home"]["subject_id"]
    first = enter(client, subject_id, KEY)
    young = enter(client, subject_id, "young-key", {**DOSE, "lot_number": "L-2"})
    assert (first.status_code, young.status_code) == (201, 201), young.text
    factory = world.app.state.session_factory
    with factory.begin() as session:
        session.execute(
            update(DoseEntryKey)
            .where(DoseEntryKey.key == KEY)
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
    assert prune_entry_keys(factory.kw["bind"], days=30).deleted == 1

    again = enter(client, subject_id, KEY)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers, again.text
    assert again.json()["dose"]["id"] != first.json()["dose"]["id"]
    assert len(doses_of(world, subject_id)) == 3  # the first dose is still there: pruning never deletes a dose
    # The key now belongs to the new dose; the young key still replays its own.
    assert enter(client, subject_id, KEY).json()["dose"] == again.json()["dose"]
    assert enter(client, subject_id, "young-key", {**DOSE, "lot_number": "L-2"}).status_code == 200


def test_the_dose_form_sent_twice_stores_one_dose(world: World) -> None:
    client, subject_id = world.client("facility"), world.ids["home"]["subject_id"]
    page = client.get(f"/subjects/{subject_id}")
    token = form_token(page)
    assert form_token(client.get(f"/subjects/{subject_id}")) != token, "each rendered form has its own token"
    form = {**DOSE, "idempotency_key": token}
    first = client.post(f"/subjects/{subject_id}/doses", data=form)
    assert first.status_code == 303
    assert any("Đã lưu mũi tiêm" in message for message in flashes(client.get(first.headers["location"])))
    again = client.post(f"/subjects/{subject_id}/doses", data=form)
    assert again.status_code == 303
    assert flashes(client.get(again.headers["location"])) == [ENTERED_BEFORE]
    assert len(doses_of(world, subject_id)) == 1
    changed = client.post(f"/subjects/{subject_id}/doses", data={**form, "lot_number": "L-9"})
    assert any("đã được dùng để nhập một mũi tiêm khác" in m for m in flashes(client.get(changed.headers["location"])))
    malformed = client.post(f"/subjects/{subject_id}/doses", data={**form, "idempotency_key": "a b"})
    assert any("không hợp lệ" in m for m in flashes(client.get(malformed.headers["location"])))
    assert len(doses_of(world, subject_id)) == 1


NEW_PERSON = {
    "full_name": "Trần Thị Bích",
    "birth_date": "03/04/1999",
    "sex": "Nữ",
    "id_number": "001199000777",
    "province_code": "01",
    "district_code": "001",
    "ward_code": "00001",
    **DOSE,
}


def people_named(world: World, name: str) -> list[Subject]:
    with world.app.state.session_factory() as session:
        return list(session.scalars(select(Subject).where(Subject.full_name == name)))


def test_the_new_person_form_sent_twice_stores_one_person_and_one_dose(world: World) -> None:
    client = world.client("facility")
    form = {**NEW_PERSON, "idempotency_key": form_token(client.get("/doses/new"))}
    first = client.post("/doses/new", data=form)
    assert first.status_code == 303
    assert any("Đã lưu đối tượng và mũi tiêm" in message for message in flashes(client.get(first.headers["location"])))
    again = client.post("/doses/new", data=form)
    assert again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert flashes(client.get(again.headers["location"])) == [ENTERED_BEFORE]
    [person] = people_named(world, "Trần Thị Bích")
    assert len(doses_of(world, person.id)) == 1
    refused = client.post("/doses/new", data={**form, "full_name": "Trần Thị Bạch"})
    assert refused.status_code == 409 and "đã được dùng để nhập một mũi tiêm khác" in refused.text
    assert people_named(world, "Trần Thị Bạch") == []
    malformed = client.post("/doses/new", data={**form, "idempotency_key": "x" * 65})
    assert malformed.status_code == 422 and "mã chống nhập trùng sai dạng" in malformed.text


class GateVerifier:
    """The first verification waits (its request's dose and key are written, not committed) until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, session: Session, subject_id: int) -> VerifyOutcome:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.release.wait(timeout=30), "the test never released the first request"
        return QueueOnlyVerifier()(session, subject_id)


def _waiting_on_a_lock(world: World) -> bool:
    with world.app.state.session_factory() as session:
        query = "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
        return bool(session.scalar(text(query)))


def test_two_concurrent_requests_with_one_key_store_one_dose(world: World) -> None:
    """The first request holds its uncommitted dose and key; the second, sent meanwhile, finds no key yet, so it
    writes its own dose and key: on PostgreSQL its key INSERT waits for the first transaction (checked), fails when
    it commits, and the second request answers with the first one's dose. On SQLite the second waits earlier, for
    the database's write lock, and then finds the key."""
    gate = GateVerifier()
    world.app.state.verifier = gate
    subject_id = world.ids["home"]["subject_id"]
    clients = [world.client("facility") for _ in range(2)]
    answers: dict[int, httpx.Response] = {}

    def send(number: int) -> None:
        answers[number] = enter(clients[number], subject_id, KEY)

    threads = [threading.Thread(target=send, args=(number,)) for number in range(2)]
    threads[0].start()
    assert gate.entered.wait(timeout=30), "the first request did not reach the verification"
    threads[1].start()
    if world.app.state.session_factory.kw["bind"].dialect.name == "postgresql":
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(world):
            assert time.monotonic() < deadline, "the second request never waited for the first one's key"
            time.sleep(0.02)
    else:
        time.sleep(0.5)  # SQLite: the second request is waiting for the write lock (or not sent yet; same outcome)
    gate.release.set()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [200, 201], [answer.text for answer in answers.values()]
    assert answers[0].json()["dose"] == answers[1].json()["dose"]
    assert [dose.id for dose in doses_of(world, subject_id)] == [answers[0].json()["dose"]["id"]]
    assert gate.calls == 1, "the dose of the request that lost the race was verified as well"

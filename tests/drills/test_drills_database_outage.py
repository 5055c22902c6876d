"""Drill: PostgreSQL restarts, stops for a few seconds, or crashes, while the web app serves writes.

Requests that meet the outage get a clear 503 in Vietnamese that says to retry; the app recovers by itself once the
database is back (it is not restarted); the clients send every refused write again (a dose with the same
Idempotency-Key) and every write they meant is in the database exactly once, also a dose whose COMMIT reached the
disk just before the server died, which the app had to refuse without knowing. The database is a private cluster of
the drill (`private_postgres.py`), never the machine's shared server.
"""

import html
import itertools
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.support.commit_cutter import CommitCutter
from tests.support.drill_server import (
    Server,
    add_facility_user,
    logged_in_client,
    record_rows,
    write_records_xlsx,
)
from tests.support.private_postgres import PrivatePostgres
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.importer import import_records
from tiemchung.health.registry.models import Dose, Subject
from tiemchung.health.web.app import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_READ, create_app
from tiemchung.health.web.settings import Settings

# A crash in a client thread must fail the drill, not pass as a warning.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
SUBJECTS = 20
DOSE_WRITERS = 3
IMPORTER = "import"
CLIENTS = frozenset({*(f"dose-{number}" for number in range(DOSE_WRITERS)), IMPORTER})
IMPORT_ROWS = 40
FIRST_IMPORTED = 1_000  # imported files number their subjects from here, after those the doses are entered for
LOAD_BEFORE = 20  # writes acknowledged before each disruption, so that it hits an app under load
OUTAGE_SECONDS = 3.0
REFUSED_PAUSE = 0.1  # a client's pause after a 503 before sending again; shorter than Retry-After, to keep it short
WAIT_SECONDS = 30
DOSE = {"vaccine": "Pfizer", "vaccination_date": "2022-01-10", "dose_kind": "booster_1"}


@dataclass(frozen=True)
class Disruption:
    mode: str  # pg_ctl's shutdown mode: fast (open transactions rolled back, checkpoint) or immediate (a crash)
    outage_seconds: float = 0  # 0: started again at once (pg_ctl restart)
    idle: bool = False  # the clients wait meanwhile: the pool's connections are dead but nothing has noticed yet


DISRUPTIONS = {
    "restart": Disruption("fast"),
    "stop-wait-start": Disruption("fast", OUTAGE_SECONDS),
    "crash": Disruption("immediate"),
    "restart while idle": Disruption("fast", idle=True),
}


@dataclass(frozen=True)
class Answer:
    client: str
    key: str  # the write: a dose's unique lot number, or an import file's number
    sent: float
    answered: float
    response: httpx.Response | None  # None: no HTTP answer at all
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.response is not None and self.response.is_success

    @property
    def replayed(self) -> bool:
        """The dose was stored by an earlier attempt of the same entry (same Idempotency-Key): answered, not added."""
        return self.response is not None and self.response.headers.get("idempotent-replayed") == "true"


@dataclass
class Load:
    """The clients' threads, and every answer they got with its times (time.monotonic)."""

    threads: list[threading.Thread] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    given_up: threading.Event = field(default_factory=threading.Event)  # clients still retrying must stop too
    gate: threading.Condition = field(default_factory=threading.Condition)
    paused: bool = False
    held: int = 0  # clients waiting at the gate

    def start(self, *targets: Callable[[], None]) -> None:
        self.threads = [threading.Thread(target=target) for target in targets]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        """Stop starting new writes, let the clients finish sending the refused ones, then make stragglers give up
        (the database did not come back: the checks then report their writes)."""
        self.stop.set()
        self.resume()
        for thread in self.threads:
            thread.join(timeout=WAIT_SECONDS)
        self.given_up.set()
        for thread in self.threads:
            thread.join(timeout=WAIT_SECONDS)

    def pause(self) -> None:
        """Hold every client before its next request; return when none has a request in flight."""
        with self.gate:
            self.paused = True
            held = self.gate.wait_for(lambda: self.held == len(self.threads), timeout=WAIT_SECONDS)
        assert held, "the clients did not pause"

    def resume(self) -> None:
        with self.gate:
            self.paused = False
            self.gate.notify_all()

    def wait_for(self, condition: Callable[[], bool], failure: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            assert all(thread.is_alive() for thread in self.threads), "a client stopped (its exception is below)"
            assert time.monotonic() < deadline, f"{failure} within {WAIT_SECONDS} s"
            time.sleep(0.05)

    def send(self, client: str, key: str, request: Callable[[], httpx.Response]) -> Answer:
        with self.gate:
            self.held += 1
            self.gate.notify_all()
            self.gate.wait_for(lambda: not self.paused)
            self.held -= 1
        sent = time.monotonic()
        try:
            response, error = request(), ""
        except httpx.TransportError as failure:  # must not happen: the web server itself stays up
            response, error = None, repr(failure)
        answer = Answer(client, key, sent, time.monotonic(), response, error)
        with self.lock:
            self.answers.append(answer)
        return answer

    def snapshot(self) -> list[Answer]:
        with self.lock:
            return list(self.answers)

    def clients(self, *, acknowledged: bool, sent_since: float = 0.0) -> set[str]:
        """The clients that got an acknowledgement (or a refusal) for a request sent at or after `sent_since`."""
        return {a.client for a in self.snapshot() if a.acknowledged == acknowledged and a.sent >= sent_since}


def _enter_doses(number: int, server: Server, subject_ids: list[int], load: Load) -> None:
    """A facility's client entering doses one after another. A refused dose is sent again with the same
    Idempotency-Key until it is acknowledged: a 503 does not say whether it was stored (a crash may commit it before
    the answer is lost), and the key makes the retry return the stored dose instead of entering a second one."""
    client, token = logged_in_client(server, timeout=WAIT_SECONDS)
    try:
        for turn in itertools.count():
            if load.stop.is_set():
                return
            tag = f"D{number}-{turn}"  # the lot number finds this very write in the database
            headers = {"X-CSRF-Token": token, "Idempotency-Key": f"drill-{tag}-{uuid.uuid4()}"}
            post = partial(client.post, f"/api/v1/subjects/{subject_ids[turn % len(subject_ids)]}/doses",
                           json={**DOSE, "lot_number": tag}, headers=headers)  # fmt: skip
            # Not abandoned when the drill ends: a dose the client meant to enter is entered.
            while not load.send(f"dose-{number}", tag, post).acknowledged and not load.given_up.is_set():
                time.sleep(REFUSED_PAUSE)
    finally:
        client.close()


JOB_FAILED = "x-drill-import-job"  # marks the drill's own stand-in answer for an import job that failed


def _import_files(server: Server, folder: Path, load: Load) -> None:
    """A facility's client uploading one records file after another through the API, following each import job to
    its end: a file is acknowledged when its job is done. A refused upload, or a job that failed (the database went
    away under it), is sent again as it is, which is idempotent: the import upserts by record id."""
    client, token = logged_in_client(server, timeout=WAIT_SECONDS)
    try:
        for number in itertools.count():
            rows = record_rows(IMPORT_ROWS, first=FIRST_IMPORTED + number * IMPORT_ROWS)
            path = write_records_xlsx(folder / f"import-{number}.xlsx", rows)
            send = partial(_import_to_the_end, client, token, path, load)
            while not load.send(IMPORTER, str(number), send).acknowledged:
                if load.stop.is_set():
                    return
                time.sleep(REFUSED_PAUSE)
            if load.stop.is_set():
                return
    finally:
        client.close()


def _import_to_the_end(client: httpx.Client, token: str, path: Path, load: Load) -> httpx.Response:
    """The upload, then its job's status until it is over: the final status (200) when the file was imported; a
    refusal (the upload's or a status poll's answer, or a 503 standing for a failed job) otherwise."""
    files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
    started = client.post("/api/v1/imports", files=files, headers={"X-CSRF-Token": token})
    if started.status_code != 202:
        return started
    while True:
        status = client.get(str(started.json()["status_url"]))
        if status.status_code != 200:
            return status
        state = status.json()["status"]
        if state == "done":
            return status
        if state == "failed" or load.given_up.is_set():
            return httpx.Response(503, request=status.request, headers={JOB_FAILED: state}, text=f"import job {state}")
        time.sleep(0.1)


def _registry(cluster: PrivatePostgres, folder: Path) -> tuple[str, list[int]]:
    """Database `tiemchung` on the cluster: the schema, facility CS01, its user, and SUBJECTS subjects."""
    admin = make_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("create database tiemchung"))
    admin.dispose()
    url = cluster.url("tiemchung")
    engine = make_engine(url)
    create_schema(engine)
    session_factory = make_session_factory(engine)
    add_facility_user(session_factory)
    subjects = write_records_xlsx(folder / "subjects.xlsx", record_rows(SUBJECTS))
    assert import_records(session_factory, subjects, actor="cs01", facility_code="CS01").ok
    with session_factory() as session:
        subject_ids = list(session.scalars(select(Subject.id)))
    engine.dispose()
    return url, subject_ids


def _disrupt(cluster: PrivatePostgres, disruption: Disruption, load: Load) -> None:
    if not disruption.outage_seconds:
        cluster.restart(disruption.mode)
        return
    cluster.stop(disruption.mode)
    stopped = time.monotonic()

    def over() -> bool:  # a few seconds, and until every client has met the outage, so each one's refusal is checked
        refused = load.clients(acknowledged=False, sent_since=stopped)
        return time.monotonic() - stopped >= disruption.outage_seconds and refused == CLIENTS

    load.wait_for(over, "not every client was refused during the outage")
    cluster.start()


@dataclass(frozen=True)
class Outage:
    """One disruption: when it began, when PostgreSQL accepted connections again, when every client had recovered."""

    name: str
    disruption: Disruption
    began: float
    ready: float
    recovered: float

    def refused(self, answers: list[Answer]) -> list[Answer]:
        """The requests that met the outage: answered after it began, sent before the database was back."""
        return [a for a in answers if not a.acknowledged and self.began <= a.answered and a.sent <= self.ready]

    def report(self, answers: list[Answer]) -> str:
        refused, back = self.refused(answers), [a.answered for a in answers if a.acknowledged and a.sent >= self.ready]
        return (
            f"{self.name}: database down {self.ready - self.began:.2f} s; {len(refused)} requests refused "
            f"({sum(a.client == IMPORTER for a in refused)} uploads); first write acknowledged "
            f"{min(back) - self.ready:.2f} s after the database was back, every client's "
            f"{self.recovered - self.ready:.2f} s after"
        )


def _outage(name: str, cluster: PrivatePostgres, load: Load) -> Outage:
    """Once the app is busy writing, disrupt PostgreSQL; then wait until every client's writes succeed again."""
    since = time.monotonic()
    load.wait_for(lambda: _under_load(load, since), f"{name}: the clients are not writing")
    disruption, postmaster = DISRUPTIONS[name], cluster.postmaster_pid()
    if disruption.idle:
        load.pause()
    began = time.monotonic()
    _disrupt(cluster, disruption, load)
    ready = time.monotonic()
    load.resume()
    assert cluster.postmaster_pid() != postmaster, f"{name}: PostgreSQL was not restarted"
    load.wait_for(partial(_every_client_acknowledged, load, ready), f"{name}: not every client recovered")
    recovered = max(a.answered for a in load.snapshot() if a.acknowledged and a.sent >= ready)
    return Outage(name, disruption, began, ready, recovered)


def _under_load(load: Load, since: float) -> bool:
    acknowledged = [answer for answer in load.snapshot() if answer.acknowledged and answer.sent >= since]
    return len(acknowledged) >= LOAD_BEFORE and {answer.client for answer in acknowledged} == CLIENTS


def _every_client_acknowledged(load: Load, since: float) -> bool:
    return load.clients(acknowledged=True, sent_since=since) == CLIENTS


@pytest.mark.slow
@pytest.mark.postgres
def test_database_restarts_under_load_give_a_clear_503_then_the_app_recovers_without_lost_writes(
    postgres_cluster: PrivatePostgres, tmp_path: Path
) -> None:
    url, subject_ids = _registry(postgres_cluster, tmp_path)
    server = Server(url, tmp_path).start()
    load = Load()
    try:
        load.start(*(partial(_enter_doses, number, server, subject_ids, load) for number in range(DOSE_WRITERS)),
                   partial(_import_files, server, tmp_path, load))  # fmt: skip
        outages = [_outage(name, postgres_cluster, load) for name in DISRUPTIONS]
        load.finish()
        # The same process throughout: the app rides the outages out, nobody restarts it.
        assert server.process is not None and server.process.poll() is None, "the app died"
    finally:
        load.finish()
        server.stop()
    answers = load.snapshot()
    for outage in outages:
        print(outage.report(answers))
    _check_refusals(answers, outages)
    print(_check_writes(url, answers, outages))
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


def _check_refusals(answers: list[Answer], outages: list[Outage]) -> None:
    """Every refusal is the 503 with the message (JSON for the API, a page for the upload); each outage under load
    refused requests, and none was refused while the database was up."""
    assert not [answer.error for answer in answers if answer.response is None], "a request got no HTTP answer"
    # The message tells the user to retry and that sending again is safe, and no longer that nothing was saved.
    assert "thử lại" in DATABASE_UNAVAILABLE and "gửi lại" in DATABASE_UNAVAILABLE
    assert "chưa được lưu" not in DATABASE_UNAVAILABLE and "chưa rõ" in DATABASE_UNAVAILABLE
    for answer in answers:
        if answer.response is not None and not answer.acknowledged:
            _check_503(answer.response)
    for outage in outages:
        assert outage.disruption.idle or outage.refused(answers), f"{outage.name}: no request met the outage"
    # Not even the first requests after an idle restart: the pool drops its dead connections when a request meets
    # one (under load) or when pool_pre_ping finds one (idle).
    met = {id(answer) for outage in outages for answer in outage.refused(answers)}
    stray = [a for a in answers if not a.acknowledged and id(a) not in met]
    assert not stray, f"{len(stray)} requests refused while the database was up, e.g. {stray[0]}"


def _check_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    if JOB_FAILED in response.headers:  # an import job the outage made fail (the page says so); the file is re-sent
        return
    assert response.headers.get("retry-after") == "5"
    if response.url.path.startswith("/api/"):
        message = DATABASE_UNAVAILABLE_READ if response.request.method == "GET" else DATABASE_UNAVAILABLE
        assert response.json() == {"detail": message}
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert DATABASE_UNAVAILABLE in response.text


def _check_writes(url: str, answers: list[Answer], outages: list[Outage]) -> str:
    """No lost and no duplicated write: every dose a client meant to enter is stored exactly once, as the row the
    app answered with, however many times it was sent; each acknowledged file's records are all stored (record ids
    are unique). A dose whose retry is answered from its key (replayed) had been stored by a refused attempt: that
    happens only when the server dies between writing the commit and answering it (the crash); those are counted."""
    doses = [answer for answer in answers if answer.client != IMPORTER]
    meant = {answer.key for answer in doses}
    answered: dict[str, set[int]] = defaultdict(set)
    for answer in doses:
        if answer.acknowledged and answer.response is not None:
            answered[answer.key].add(answer.response.json()["dose"]["id"])
    files = {int(answer.key) for answer in answers if answer.client == IMPORTER and answer.acknowledged}
    records = {f"R{FIRST_IMPORTED + number * IMPORT_ROWS + row}" for number in files for row in range(IMPORT_ROWS)}
    engine = make_engine(url)
    with engine.connect() as connection:
        tagged = connection.execute(select(Dose.lot_number, Dose.id).where(Dose.lot_number.like("D%"))).all()
        imported = set(connection.scalars(select(Dose.record_id).where(Dose.record_id.in_(records))))
    engine.dispose()
    stored: dict[str, list[int]] = defaultdict(list)
    for tag, dose_id in tagged:
        stored[tag].append(dose_id)
    missing = sorted(meant - set(answered))
    assert not missing, f"{len(missing)} doses never acknowledged though sent again, e.g. {missing[:10]}"
    # One row per dose, and every answer to it (the first acknowledgement, any replay) named that row.
    wrong = {
        tag: (ids, stored.get(tag, [])) for tag, ids in answered.items() if stored.get(tag) != [*ids] or len(ids) > 1
    }
    assert not wrong, f"doses lost, entered twice or answered with another row (answered, stored): {wrong}"
    assert set(stored) <= meant, "a stored dose that no client sent"
    assert imported == records, f"acknowledged imports lost: {len(records - imported)} records missing"
    crashes = {id(a) for outage in outages if outage.disruption.mode == "immediate" for a in outage.refused(answers)}
    replayed = [answer for answer in doses if answer.replayed]
    for replay in replayed:
        earlier = [a for a in doses if a.key == replay.key and a.sent < replay.sent and not a.acknowledged]
        assert any(id(a) in crashes for a in earlier), f"a dose stored by a refusal other than a crash: {replay}"
    refusals = sum(not answer.acknowledged for answer in doses)
    return (
        f"{len(meant)} doses entered and {len(files)} files of {IMPORT_ROWS} rows acknowledged, all stored once; "
        f"{refusals} dose requests refused and sent again, {len(replayed)} of which had been stored all the same "
        "(crash during COMMIT) and were answered from their Idempotency-Key"
    )


def _stored(url: str, lot_number: str) -> list[int]:
    engine = make_engine(url)
    with engine.connect() as connection:
        ids = list(connection.scalars(select(Dose.id).where(Dose.lot_number == lot_number)))
    engine.dispose()
    return ids


@pytest.mark.slow
@pytest.mark.postgres
def test_a_dose_committed_by_a_crash_during_its_commit_is_stored_once_when_sent_again(
    postgres_cluster: PrivatePostgres, tmp_path: Path
) -> None:
    """The crash during COMMIT, every time: the app reaches PostgreSQL through a proxy (`commit_cutter.py`) that
    forwards a dose's COMMIT, holds back the answer, crashes the server (`pg_ctl restart -m immediate`) and drops the
    app's connection. The app answers 503 though the dose is stored; the client sends the same request with the same
    Idempotency-Key and gets that dose (200, replayed), not a second one."""
    url, subject_ids = _registry(postgres_cluster, tmp_path)
    with CommitCutter(postgres_cluster.port) as cutter:
        server = Server(cutter.url("tiemchung"), tmp_path).start()
        try:
            client, token = logged_in_client(server, timeout=WAIT_SECONDS)
            dose = partial(client.post, f"/api/v1/subjects/{subject_ids[0]}/doses")
            headers = {"X-CSRF-Token": token, "Idempotency-Key": str(uuid.uuid4())}
            postmaster = postgres_cluster.postmaster_pid()
            cutter.arm(at_commit=partial(postgres_cluster.restart, "immediate"))
            refused = dose(json={**DOSE, "lot_number": "CUT-1"}, headers=headers)
            assert cutter.cut.is_set() and not cutter.errors, f"the proxy did not cut a COMMIT: {cutter.errors}"
            assert postgres_cluster.postmaster_pid() != postmaster, "PostgreSQL was not crashed"
            _check_503(refused)
            stored = _stored(url, "CUT-1")
            assert len(stored) == 1, "the COMMIT whose answer was lost did not commit: nothing was in doubt"
            again = dose(json={**DOSE, "lot_number": "CUT-1"}, headers=headers)
            assert again.status_code == 200, again.text
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json()["dose"]["id"] == stored[0]
            assert _stored(url, "CUT-1") == stored, "the dose was entered twice"
            # The next dose, with its own key, is a new entry as usual.
            fresh = dose(json={**DOSE, "lot_number": "CUT-2"}, headers={**headers, "Idempotency-Key": "next-1"})
            assert fresh.status_code == 201, fresh.text
            assert _stored(url, "CUT-2") == [fresh.json()["dose"]["id"]]
            client.close()
        finally:
            server.stop()
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


@pytest.fixture
def unreachable_app(tmp_path: Path) -> TestClient:
    """The app with a database that refuses every connection (nothing listens on port 1)."""
    url = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
    app = create_app(Settings(database_url=url, secret_key="drill", keys_dir=tmp_path / "keys"))
    return TestClient(app, follow_redirects=False, raise_server_exceptions=False)


def test_an_unreachable_database_is_a_503_with_a_vietnamese_message_for_the_api(unreachable_app: TestClient) -> None:
    answer = unreachable_app.post("/api/v1/session", json={"username": "cs01", "password": "x"})
    assert answer.status_code == 503
    assert answer.json() == {"detail": DATABASE_UNAVAILABLE}
    assert answer.headers["retry-after"] == "5"


def test_an_unreachable_database_is_a_503_page_for_the_pages(unreachable_app: TestClient) -> None:
    login_page = unreachable_app.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
    assert token is not None
    answer = unreachable_app.post("/login", data={"username": "cs01", "password": "x", "csrf_token": token[1]})
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert "Cơ sở dữ liệu tạm thời không truy cập được" in answer.text and "Traceback" not in answer.text
    assert html.escape(DATABASE_UNAVAILABLE) in answer.text
    # A read has nothing to be unsure about: its page just says to retry.
    read = unreachable_app.get("/certificates/revocation-list.json")
    assert read.status_code == 503 and read.headers["retry-after"] == "5"
    assert html.escape(DATABASE_UNAVAILABLE_READ) in read.text and "chưa rõ" not in read.text

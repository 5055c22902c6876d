"""The real web server as a subprocess for the drills: start it, wait until it answers, log in, kill it."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from tests.support.ports import free_port
from tiemchung.health.registry.models import Facility, Role, User
from tiemchung.health.web.security import hash_password
from tiemchung.interchange.columns import COLUMNS

PASSWORD = "mật-khẩu-diễn-tập-1"
FACILITY = "CS01"
USERNAME = "cs01"
TIEMCHUNG = Path(sys.executable).parent / "tiemchung"
STARTUP_SECONDS = 30


def add_facility_user(session_factory: sessionmaker[Session]) -> None:
    """Facility CS01 (Hà Nội / Ba Đình / Phúc Xá) and its user `cs01`."""
    with session_factory.begin() as session:
        session.add(Facility(code=FACILITY, name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"))
        session.flush()
        user = User(username=USERNAME, full_name="Cơ sở 01", password_hash=hash_password(PASSWORD), role=Role.FACILITY)
        user.area_code, user.facility_code, user.failed_logins = "01", FACILITY, 0
        session.add(user)


# Hà Nội / Ba Đình / Phúc Xá in the GSO codes of 2021-2023.
BASE_ROW: dict[str, Any] = {
    "full_name": "Nguyễn Văn An", "birth_date": "15/03/1985", "sex": "Nam", "passport_number": "",
    "nationality": "", "phone": "0912345678", "province_code": "01", "district_code": "001", "ward_code": "00001",
    "address": "Số 1 Phúc Xá", "vaccine": "AstraZeneca", "lot_number": "ABV1234", "vaccination_date": "20/08/2021",
    "dose": "1", "facility_code": FACILITY,
}  # fmt: skip


def record_rows(count: int, first: int = 0) -> list[dict[str, Any]]:
    """`count` valid rows of the records format, one subject and one dose each, all of facility CS01; numbered from
    `first`, so that files built with different numbers hold different subjects (numbers below 100,000)."""
    return [
        {**BASE_ROW, "subject_id": f"S{n}", "record_id": f"R{n}", "id_number": f"0010850{n:05d}"}
        for n in range(first, first + count)
    ]


def write_records_xlsx(path: Path, rows: list[dict[str, Any]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([column.header_vi for column in COLUMNS])
    for row in rows:
        sheet.append([row[column.key] for column in COLUMNS])
    workbook.save(path)
    return path


@dataclass
class Server:
    """`tiemchung serve` on 127.0.0.1; its output goes to a log file so that a full pipe never blocks it."""

    database_url: str
    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> "Server":
        self.port = free_port()
        env = {**os.environ, "TIEMCHUNG_SECRET_KEY": "drill-secret", "TIEMCHUNG_KEYS_DIR": str(self.workdir / "keys")}
        command = [str(TIEMCHUNG), "serve", "--database", self.database_url, "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.workdir, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited:\n{self.log.read_text()}"
            try:
                if httpx.get(f"{self.base_url}/login", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()  # a server that never answered must not outlive the test (it kept running, orphaned)
        raise AssertionError(f"the server did not answer within {STARTUP_SECONDS} s:\n{self.log.read_text()}")

    def kill(self) -> int:
        """SIGKILL: no shutdown handler, no rollback by the application; returns the exit code."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def upload(client: httpx.Client, token: str, path: Path) -> httpx.Response:
    """Upload a records file to the import page, as the facility user does."""
    files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
    return client.post("/imports", files=files, headers={"X-CSRF-Token": token})


def logged_in_client(server: Server, timeout: float = 60) -> tuple[httpx.Client, str]:
    """A client with the facility user's session cookie, and the CSRF token to send with every change."""
    client = httpx.Client(base_url=server.base_url, timeout=timeout)
    answer = client.post("/api/v1/session", json={"username": USERNAME, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, str(answer.json()["csrf_token"])

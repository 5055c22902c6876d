"""The README's first command, end to end: `tiemchung demo` prepares everything, serves the web, stops on Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tiemchung.register.process import free_port

pytestmark = pytest.mark.slow


def _wait_for_line(process: subprocess.Popen[str], marker: str, seconds: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no '{marker}' within {seconds} s; output:\n{''.join(lines)[-4000:]}")


def _when_listening(call: Callable[[], httpx.Response], seconds: float = 60) -> httpx.Response:
    """The banner is printed just before uvicorn binds its port: retry until it answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_demo_prepares_everything_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "COLUMNS": "200", "HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tiemchung", "demo", "--people", "2000", "--port", str(port),
         "--workdir", str(tmp_path / "demo"), "--password", "mat-khau-thu-nghiem"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )  # fmt: skip
    try:
        output = "".join(_wait_for_line(process, "Nền tảng đang chạy", seconds=900))
        assert "Đã xác minh đúng" in output
        assert re.search(r"Đã ký [1-9][\d,]* ngày tiêm", output), "facilities sign their days"
        assert re.search(r"Đã cấp [1-9][\d,]* chứng nhận", output), "verified subjects get certificates"
        assert re.search(r"\n[1-9][\d,]* cặp hồ sơ có thể của cùng một người", output), "the stations' queue"
        assert "demo_health_station" in output
        register_children = _children(process.pid)
        assert register_children, "the register service runs as a child process"

        login = _when_listening(
            lambda: httpx.post(
                f"http://127.0.0.1:{port}/api/v1/session",
                json={"username": "demo_health_station", "password": "mat-khau-thu-nghiem"},
            )
        )
        assert login.status_code == 200, login.text
        assert "Mật khẩu khóa ký số của các cơ sở tiêm" in output
        _assert_verify_accepts_a_demo_certificate(f"http://127.0.0.1:{port}", tmp_path / "demo" / "tiemchung.sqlite")
        for report in ("bao-cao-xac-minh.xlsx", "phu-luc-1.xlsx", "phu-luc-2.xlsx"):
            assert (tmp_path / "demo" / "reports" / report).stat().st_size > 0

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        for child in register_children:
            assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
    finally:
        if process.poll() is None:  # a failed run: leave no register service behind
            orphans = _children(process.pid)
            process.kill()
            process.wait()
            for child in orphans:
                os.kill(child, signal.SIGKILL)


def _assert_verify_accepts_a_demo_certificate(base: str, database: Path) -> None:
    """Issue 15: the web served an empty trust list, and /verify called every certificate of the demo invalid."""
    import sqlite3

    with sqlite3.connect(database) as connection:
        (hc1,) = connection.execute("select hc1 from certificates where revoked_at is null limit 1").fetchone()
    with httpx.Client(base_url=base) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/verify").text)
        assert token is not None
        answer = client.post("/verify", data={"csrf_token": token.group(1), "text": hc1})
    assert "✔ HỢP LỆ" in answer.text, answer.text[-2000:]

"""The register service as a child process on 127.0.0.1: for the reliability drill, the benchmark and local demos.

Starting it as a real process (not in-process) is the point: the drill kills it with SIGKILL mid-batch, and the
benchmark measures latency over a real socket.
"""

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServiceProcess:
    """`tiemchung register serve` in a child process; `start()` returns once `/healthz` answers."""

    def __init__(
        self,
        data: Path,
        workdir: Path,
        *,
        keys: Path | None = None,
        port: int | None = None,
        chunk_subjects: int | None = None,
        threads: int | None = None,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        https: ssl.SSLContext | None = None,
    ) -> None:
        """`extra_args` go to `serve` (e.g. the `--tls-*` options); `https` is then the context the readiness
        check connects with (trusting the server, and presenting a client certificate under mutual TLS)."""
        self.port = port or free_port()
        self.base_url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        self._https = https
        self.workdir = workdir
        self.log_path = log_path or workdir.parent / f"register-service-{self.port}.log"
        self._command = [
            sys.executable,
            "-m",
            "tiemchung.register",
            "serve",
            "--data",
            str(data),
            "--workdir",
            str(workdir),
            "--port",
            str(self.port),
        ]
        if keys is not None:
            self._command += ["--keys", str(keys)]
        if chunk_subjects is not None:
            self._command += ["--chunk-subjects", str(chunk_subjects)]
        if threads is not None:
            self._command += ["--threads", str(threads)]
        self._command += list(extra_args)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 120.0) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"register service exited with {self._process.returncode}: {self.log_tail()}")
            try:
                verify: ssl.SSLContext | bool = self._https or True
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0, verify=verify).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"register service not ready after {timeout} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a power cut."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def log_tail(self, characters: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def _signal(self, number: int) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        os.kill(self._process.pid, number)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

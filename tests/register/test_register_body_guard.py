"""The register service answers a write without a valid key, or with a body too large, before reading the body
(issue 16, item 6: 256 MiB of JSON and 1 GiB of multipart with no key were read whole, 401 after 4-10 s)."""

import http.client
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.support.ports import free_port
from tiemchung.register.service import ServiceConfig, create_app

GIB = 1024 * 1024 * 1024


@pytest.fixture
def register_host(service_config: ServiceConfig, api_key: str) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(create_app(service_config), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


def _declared_but_not_sent(host: str, path: str, length: int, headers: dict[str, str]) -> tuple[int, float]:
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.putrequest("POST", path)
    for name, value in {**headers, "Content-Length": str(length)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    started = time.monotonic()
    connection.send(b"{" * 1024)
    response = connection.getresponse()
    return response.status, time.monotonic() - started


def test_no_key_or_too_large_is_answered_before_the_body(register_host: str, api_key: str) -> None:
    json_type = {"Content-Type": "application/json"}
    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    for path, headers in (("/v1/verify", json_type), ("/v1/batches", multipart)):
        status, seconds = _declared_but_not_sent(register_host, path, GIB, headers)
        assert status == 401 and seconds < 2, (path, status, seconds)
        wrong = {**headers, "Authorization": "Bearer not-a-key"}
        assert _declared_but_not_sent(register_host, path, 1024 * 1024, wrong)[0] == 401
    keyed = {**json_type, "Authorization": f"Bearer {api_key}"}
    status, seconds = _declared_but_not_sent(register_host, "/v1/verify", 256 * 1024 * 1024, keyed)
    assert status == 413 and seconds < 2
    status, seconds = _declared_but_not_sent(register_host, "/v1/batches", 8 * GIB, {**multipart, **keyed})
    assert status == 413 and seconds < 2

"""The drills' server helper cleans up after itself: a server that never answers is stopped, not orphaned."""

from pathlib import Path

import pytest

from tests.support import drill_server


def test_a_server_that_does_not_answer_in_time_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drill_server, "STARTUP_SECONDS", 0)
    server = drill_server.Server(f"sqlite:///{tmp_path / 'drill.sqlite'}", tmp_path)
    with pytest.raises(AssertionError, match="did not answer"):
        server.start()
    assert server.process is not None and server.process.poll() is not None

"""Refused requests are audited, without flooding the log (issue 16 item 14: out-of-area attempts left no trace)."""

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.web_world import build_world
from tiemchung.health.registry.models import AuditEvent
from tiemchung.health.web.refusals import RefusalLog


def _refusals(session_factory: sessionmaker[Session]) -> list[AuditEvent]:
    with session_factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.id)))


def test_out_of_area_reads_leave_a_bounded_trace(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    world = build_world(session_factory, tmp_path / "keys")
    world.app.state.refusal_log = RefusalLog(first_events=3, summary_every=5)
    client = world.client("health_station")
    other = world.ids["other"]["subject_id"]
    for _ in range(13):
        assert client.get(f"/subjects/{other}").status_code == 403
    events = _refusals(session_factory)
    # 3 one by one, then one event for every 5 further refusals: 3 + 2 events for 13 attempts.
    assert len(events) == 5
    first = events[0]
    assert (first.actor, first.actor_role, first.entity_id) == (
        "health_station",
        "health_station",
        f"GET /subjects/{other}",
    )
    assert first.detail["kind"] == "area" and "ngoài địa bàn" in first.reason
    assert [event.detail.get("refusals", 1) for event in events] == [1, 1, 1, 5, 5]


def test_a_role_refusal_is_audited_too(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    world = build_world(session_factory, tmp_path / "keys")
    assert world.client("village_team").get("/reports").status_code == 403
    (event,) = _refusals(session_factory)
    assert (event.actor, event.detail["kind"], event.entity_id) == ("village_team", "role", "GET /reports")

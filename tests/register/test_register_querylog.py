"""The query log's retention: pruned only by an operator's command, every pruning recorded for good, and the log's
completeness provable afterwards. Real SQLite files written by the real ledger, at injected times."""

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.clock import FakeClock
from tiemchung.cli import register_group
from tiemchung.register import querylog
from tiemchung.register.ledger import Ledger, LogEntry, connect

runner = CliRunner()


def _log_at(workdir: Path, *moments: datetime) -> None:
    """One query-log entry at each moment, as the service writes them."""
    clock = FakeClock(moments[0])
    ledger = Ledger(workdir / "service.sqlite", workdir / "query-log.secret", clock=clock)
    try:
        for number, moment in enumerate(moments):
            clock.now = moment
            ledger.answer(
                [LogEntry("Bộ Y tế", f"request-{moment.isoformat()}-{number}", "online", "S-1", "h", "VERIFIED")]
            )
    finally:
        ledger.close()


def _ids(workdir: Path) -> list[int]:
    with sqlite3.connect(workdir / "service.sqlite") as connection:
        return [row[0] for row in connection.execute("select id from query_log order by id")]


def _utc(day: int, hour: int) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def test_prune_removes_the_oldest_entries_in_steps_and_records_them(tmp_path: Path) -> None:
    # 2025-03-05 00:00 in Viet Nam is 2025-03-04 17:00 UTC: the entry at 16:00 UTC goes, the one at 18:00 stays.
    _log_at(tmp_path, _utc(1, 8), _utc(2, 8), _utc(3, 8), _utc(4, 16), _utc(4, 18), _utc(6, 8))
    connection = connect(tmp_path / "service.sqlite")
    cutoff = querylog.start_of_day(date(2025, 3, 5))
    assert querylog.preview(connection, cutoff) == querylog.Span(
        4, "2025-03-01T08:00:00.000+00:00", "2025-03-04T16:00:00.000+00:00"
    )

    pruning = querylog.prune(
        connection,
        cutoff,
        operator="nguyen.van.a@register-1",
        reason="QĐ 12/2025",
        clock=FakeClock(_utc(20, 9)),
        step=3,
    )
    assert pruning == querylog.Pruning(
        1,
        "2025-03-20T09:00:00.000+00:00",
        "nguyen.van.a@register-1",
        "QĐ 12/2025",
        "2025-03-05T00:00:00+07:00",
        4,
        1,
        4,
    )
    steps = connection.execute("select first_id, last_id, rows from log_pruning_steps order by first_id").fetchall()
    assert steps == [(1, 3, 3), (4, 4, 1)]  # one transaction per step of 3 rows
    assert _ids(tmp_path) == [5, 6]
    assert querylog.prune(connection, cutoff, operator="x", reason="") is None  # nothing more to remove

    state = querylog.status(connection)
    assert state.log == querylog.Span(2, "2025-03-04T18:00:00.000+00:00", "2025-03-06T08:00:00.000+00:00")
    assert (state.last_id, state.pruned, state.unaccounted, len(state.prunings)) == (6, 4, 0, 1)
    connection.close()


def test_ids_continue_after_a_pruning_that_emptied_the_log(tmp_path: Path) -> None:
    _log_at(tmp_path, _utc(1, 8), _utc(2, 8))
    with closing(connect(tmp_path / "service.sqlite")) as connection:
        querylog.prune(connection, querylog.start_of_day(date(2025, 4, 1)), operator="op", reason="")
    assert _ids(tmp_path) == []
    _log_at(tmp_path, _utc(10, 8))
    assert _ids(tmp_path) == [3]  # not 1: the pruned ids are never given again
    with closing(connect(tmp_path / "service.sqlite")) as connection:
        assert querylog.status(connection).unaccounted == 0


def test_an_entry_logged_out_of_clock_order_is_kept_not_left_as_a_gap(tmp_path: Path) -> None:
    # The clock stepped back: entry 3 is older than the cut-off but comes after entry 2, which is not.
    _log_at(tmp_path, _utc(1, 8), _utc(9, 8), _utc(2, 8), _utc(10, 8))
    with closing(connect(tmp_path / "service.sqlite")) as connection:
        pruning = querylog.prune(connection, querylog.start_of_day(date(2025, 3, 5)), operator="op", reason="")
        assert pruning is not None and (pruning.first_id, pruning.last_id, pruning.rows) == (1, 1, 1)
        assert querylog.status(connection).unaccounted == 0
    assert _ids(tmp_path) == [2, 3, 4]


def test_the_pruning_record_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    _log_at(tmp_path, _utc(1, 8), _utc(9, 8))
    with closing(connect(tmp_path / "service.sqlite")) as connection:
        querylog.prune(connection, querylog.start_of_day(date(2025, 3, 5)), operator="op", reason="")
        for statement in (
            "delete from log_prunings",
            "update log_prunings set operator = 'someone else'",
            "delete from log_pruning_steps",
            "update log_pruning_steps set rows = 0",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                connection.execute(statement)


def test_prune_log_command_asks_prunes_and_shows_the_history(tmp_path: Path) -> None:
    _log_at(tmp_path, _utc(1, 8), _utc(2, 8), _utc(3, 8), _utc(9, 8))
    command = ["prune-log", "--before", "2025-03-05", "--workdir", str(tmp_path)]

    declined = runner.invoke(register_group, command, input="n\n")
    assert declined.exit_code == 1 and "Sẽ xóa vĩnh viễn 3 mục" in declined.output and "Đã hủy" in declined.output
    assert _ids(tmp_path) == [1, 2, 3, 4]

    confirmed = runner.invoke(register_group, [*command, "--operator", "Trần Thị B", "--reason", "QĐ 7"], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "Đã xóa 3 mục (mã 1–3)" in confirmed.output and "Lần xóa số 1" in confirmed.output
    assert _ids(tmp_path) == [4]

    nothing = runner.invoke(register_group, [*command, "--yes"])
    assert nothing.exit_code == 0 and "không xóa gì" in nothing.output

    status = runner.invoke(register_group, ["log-status", "--workdir", str(tmp_path)])
    assert status.exit_code == 0, status.output
    assert "1 mục" in status.output and "2025-03-09 15:00:00" in status.output  # 08:00 UTC in Viet Nam
    assert "Trần Thị B" in status.output and "QĐ 7" in status.output and "Liền mạch" in status.output


def test_prune_log_refuses_a_future_date_and_a_missing_log(tmp_path: Path) -> None:
    _log_at(tmp_path, _utc(1, 8))
    future = runner.invoke(register_group, ["prune-log", "--before", "2999-01-01", "--workdir", str(tmp_path), "--yes"])
    assert future.exit_code != 0 and _ids(tmp_path) == [1]
    missing = runner.invoke(register_group, ["log-status", "--workdir", str(tmp_path / "elsewhere")])
    assert missing.exit_code == 1 and "Không thấy nhật ký truy vấn" in missing.output
    assert not (tmp_path / "elsewhere").exists()


def test_log_status_warns_of_entries_removed_outside_the_command(tmp_path: Path) -> None:
    _log_at(tmp_path, _utc(1, 8), _utc(2, 8), _utc(3, 8))
    with sqlite3.connect(tmp_path / "service.sqlite") as connection:
        connection.execute("delete from query_log where id = 2")
    status = runner.invoke(register_group, ["log-status", "--workdir", str(tmp_path)])
    assert status.exit_code == 2 and "CẢNH BÁO: 1 mục" in status.output

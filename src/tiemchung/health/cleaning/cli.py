"""Commands of the cleaning package: list worklists and check their police signatures from the command line."""

from typing import Annotated

import typer

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL, DatabaseOption


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    cleaning = typer.Typer(help="Làm sạch dữ liệu tiêm chủng (quy trình của Đề án 06).", no_args_is_help=True)
    cleaning.command("worklists", help="Liệt kê danh sách làm sạch và tiến độ từng danh sách.")(list_worklists)
    cleaning.command("verify", help="Kiểm tra chữ ký số của Công an xã trên một danh sách.")(verify_signature)
    app.add_typer(cleaning, name="cleaning")


def list_worklists(
    ward: Annotated[str, typer.Option(help="Mã xã/phường (bỏ trống: tất cả).")] = "",
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from collections import Counter

    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from tiemchung.health.cleaning.models import CleaningWorklist, LineState, WorklistState
    from tiemchung.health.registry.db import make_engine, make_session_factory

    table = Table("Số", "Xã/phường", "Tên", "Trạng thái", *(state.label_vi for state in LineState))
    with make_session_factory(make_engine(database))() as session:
        query = select(CleaningWorklist).order_by(CleaningWorklist.id)
        if ward:
            query = query.where(CleaningWorklist.ward_code == ward)
        for worklist in session.scalars(query):
            states = Counter(line.state for line in worklist.lines)
            counts = [str(states.get(state.value, 0)) for state in LineState]
            table.add_row(
                str(worklist.id), worklist.ward_code, worklist.title, WorklistState(worklist.state).label_vi, *counts
            )
    Console().print(table)


def verify_signature(
    worklist: Annotated[int, typer.Option(help="Số danh sách.")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.cleaning import signing
    from tiemchung.health.cleaning.models import CleaningWorklist
    from tiemchung.health.registry.db import make_engine, make_session_factory

    with make_session_factory(make_engine(database))() as session:
        found = session.get(CleaningWorklist, worklist)
        if found is None:
            typer.echo(f"Không có danh sách số {worklist}.", err=True)
            raise typer.Exit(2)
        verdict = signing.check(session, found)
    typer.echo(verdict.message)
    raise typer.Exit(0 if verdict.valid else 1)

"""`tiemchung registry duplicates / merge / unmerge`: find the records of one person, merge them, undo a merge."""

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tiemchung.health.registry.cli import DatabaseOption
from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL

registry_app = typer.Typer(help="Hồ sơ trùng của cùng một người: tìm, gộp, tách.", no_args_is_help=True)
console = Console()
GROUP_COLUMNS = ("subject_key", "group_key", "state", "evidence")
ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
    registry_app.command("duplicates", help="Tìm các hồ sơ trùng (mỗi đối tượng một dòng trong tệp CSV).")(
        duplicates_command
    )
    registry_app.command("merge", help="Gộp các hồ sơ đã biết là cùng một người.")(merge_command)
    registry_app.command("unmerge", help="Tách một lần gộp (không phải cùng một người).")(unmerge_command)


def duplicates_command(
    out: Annotated[Path, typer.Option("--out", help="Tệp CSV kết quả: subject_key, group_key, state, evidence.")],
    merge_certain: Annotated[
        bool, typer.Option("--merge-certain", help="Gộp luôn các nhóm chắc chắn (cùng một người theo CSDL dân cư).")
    ] = False,
    without_model: Annotated[
        bool,
        typer.Option(
            "--without-model", help="Chỉ dùng các quy tắc chính xác, không dùng mô hình xác suất (Splink) để so khớp."
        ),
    ] = False,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from sqlalchemy import select

    from tiemchung.health.duplicates.detect import find_pairs, group_pairs
    from tiemchung.health.duplicates.merge import merge_subjects
    from tiemchung.health.duplicates.review import store_pairs
    from tiemchung.health.registry.db import make_engine, make_session_factory, transaction
    from tiemchung.health.registry.models import Subject

    factory = make_session_factory(make_engine(database))
    with factory() as session:
        pairs = find_pairs(session, probabilistic=not without_model)
        groups = group_pairs(pairs)
        ids = [subject_id for group in groups for subject_id in group.subject_ids]
        keys = dict(session.execute(select(Subject.id, Subject.subject_key).where(Subject.id.in_(ids))).all())
    with out.open("w", encoding="utf-8", newline="") as output:
        writer = csv.writer(output)
        writer.writerow(GROUP_COLUMNS)
        for group in groups:
            group_key = keys[group.subject_ids[0]]
            for subject_id in group.subject_ids:
                writer.writerow([keys[subject_id], group_key, group.state, group.evidence[subject_id].value])
    with transaction(factory) as session:
        stored = store_pairs(session, pairs)  # the queue of the station's and province's pages
    console.print(
        f"Hàng chờ xem xét: {stored.new} cặp mới, {stored.closed} cặp không còn bằng chứng đã rút khỏi hàng chờ."
    )
    certain = [group for group in groups if group.certain]
    console.print(
        f"{len(groups)} nhóm hồ sơ trùng ({len(ids)} đối tượng): {len(certain)} chắc chắn, "
        f"{len(groups) - len(certain)} cần trạm y tế xem xét. Đã ghi {out}."
    )
    if merge_certain:
        moved = 0
        for group in certain:
            with transaction(factory) as session:
                merged = merge_subjects(session, group.subject_ids, actor=ACTOR, evidence=group.strongest)
                moved += merged.moved_doses
        console.print(f"Đã gộp {len(certain)} nhóm chắc chắn; {moved} mũi tiêm đã chuyển về hồ sơ giữ lại.")


def merge_command(
    subject_ids: Annotated[list[int], typer.Argument(help="Mã (id) các đối tượng là cùng một người.")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.duplicates.detect import Evidence
    from tiemchung.health.duplicates.merge import MergeRefused, merge_subjects
    from tiemchung.health.registry.db import make_engine, make_session_factory, transaction

    try:
        with transaction(make_session_factory(make_engine(database))) as session:
            result = merge_subjects(session, subject_ids, actor=ACTOR, evidence=Evidence.CONFIRMED_BY_PERSON)
    except MergeRefused as refused:
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2) from None
    merges = ", ".join(str(merge.id) for merge in result.merges)
    console.print(f"Đã gộp vào hồ sơ {result.survivor_id} (lần gộp {merges}); {result.moved_doses} mũi tiêm chuyển.")


def unmerge_command(
    merge_id: Annotated[int, typer.Argument(help="Mã lần gộp (in ra khi gộp).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.duplicates.merge import MergeRefused, unmerge
    from tiemchung.health.registry.db import make_engine, make_session_factory, transaction

    try:
        with transaction(make_session_factory(make_engine(database))) as session:
            merge = unmerge(session, merge_id, actor=ACTOR)
    except MergeRefused as refused:
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Đã tách hồ sơ {merge.merged_id} khỏi hồ sơ {merge.survivor_id}; các mũi tiêm đã trả về.")

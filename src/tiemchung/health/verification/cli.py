"""The health side's verification commands: `tiemchung register drain` and `verify-all` send the registry's
requests to the register service and store its answers. They join the `register` group beside the service's own
commands, but import nothing of the register side: only its HTTP API is used."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL, DatabaseOption

if TYPE_CHECKING:
    from tiemchung.health.verification.client import RegisterClient

verification_app = typer.Typer()


def register(group: typer.Typer) -> None:
    """Add the health side's verification commands to the `register` group."""
    group.add_typer(verification_app)


UrlOption = Annotated[str, typer.Option("--url", envvar="TIEMCHUNG_REGISTER_URL", help="Địa chỉ dịch vụ CSDL dân cư.")]
# Read from the environment only: a key on the command line would show in `ps` and shell history.
API_KEY_ENV = "TIEMCHUNG_REGISTER_API_KEY"


def _client(url: str) -> "RegisterClient":
    import os

    from tiemchung.health.verification.client import RegisterClient

    key = os.environ.get(API_KEY_ENV)
    if not key:
        raise typer.BadParameter(f"Chưa đặt khóa API trong biến môi trường {API_KEY_ENV}.")
    return RegisterClient(url, key)


@verification_app.command("drain")
def drain_command(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    url: UrlOption = "http://127.0.0.1:8700",
    limit: Annotated[int | None, typer.Option(help="Gửi tối đa bấy nhiêu yêu cầu.")] = None,
) -> None:
    """Phía y tế: gửi các yêu cầu xác minh trong hàng đợi và lưu kết quả (chạy định kỳ)."""
    from rich.progress import Progress

    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.verification.queue import drain

    factory = make_session_factory(make_engine(database))
    with _client(url) as client, Progress() as bar:
        task = bar.add_task("Đang gửi yêu cầu xác minh", total=None)
        report = drain(
            factory, client, limit=limit, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    typer.echo(
        f"Đã gửi {report.sent}, có kết quả {report.answered}, bị từ chối {report.refused}, "
        f"hoãn {report.deferred}; còn {report.remaining} yêu cầu chờ."
    )
    if report.key_refused:
        typer.echo(report.key_refused, err=True)
        raise typer.Exit(3)
    if report.register_down:
        typer.echo("CSDL dân cư chưa phản hồi: các yêu cầu còn lại sẽ được gửi lại ở lần chạy sau.", err=True)
        raise typer.Exit(2)


@verification_app.command("verify-all")
def verify_all_command(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    url: UrlOption = "http://127.0.0.1:8700",
    workdir: Annotated[Path, typer.Option(help="Thư mục tệp gửi/nhận.")] = Path("var/verification-batch"),
    all_subjects: Annotated[bool, typer.Option("--all", help="Xác minh lại cả đối tượng đã có kết quả.")] = False,
) -> None:
    """Phía y tế: xác minh cả sổ tiêm theo lô (xuất, gửi, chờ, tải kết quả, cập nhật); chạy lại được sau sự cố."""
    import httpx
    from rich.progress import Progress, TaskID

    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.verification.client import RegisterKeyRefused, RegisterRefused, RegisterUnavailable
    from tiemchung.health.verification.store import verify_registry_batch

    factory = make_session_factory(make_engine(database))
    with _client(url) as client, Progress() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            report = verify_registry_batch(
                factory, client, workdir, only_unverified=not all_subjects, progress=progress
            )
        except (RegisterUnavailable, RegisterKeyRefused, RegisterRefused, httpx.HTTPError) as error:
            bar.stop()
            _stopped_batch(error)
    if report.status is not None and report.status.status != "done":
        typer.echo(f"Lô {report.job_id} không hoàn thành: {report.status.error_vi}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"Lô {report.job_id or '(không có đối tượng cần xác minh)'}: xuất {report.exported}, cập nhật "
        f"{report.applied}, đã có từ trước {report.already_applied}, không còn trong sổ {len(report.unknown_subjects)}."
    )


def _stopped_batch(error: Exception) -> NoReturn:
    """The register died or refused during a batch: say so in Vietnamese (not a traceback); the run resumes."""
    message = getattr(error, "message_vi", "") or f"mất kết nối với CSDL dân cư ({type(error).__name__})"
    typer.echo(f"Xác minh theo lô dừng lại: {message}", err=True)
    typer.echo(
        "Không mất dữ liệu: chạy lại đúng lệnh này khi CSDL dân cư hoạt động trở lại, lô đã gửi sẽ được tiếp tục.",
        err=True,
    )
    raise typer.Exit(2)

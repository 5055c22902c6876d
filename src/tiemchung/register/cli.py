"""Commands of the register side: `tiemchung register ...` (the register service, its keys and query log)."""

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from tiemchung.register.querylog import Pruning, Span
    from tiemchung.register.service import ServiceConfig
    from tiemchung.register.verifier import ConcurrentVerifier

DEFAULT_WORKDIR = Path("var/register")

register_app = typer.Typer()
keys_app = typer.Typer(help="Quản lý khóa API của các đơn vị được phép truy vấn.", no_args_is_help=True)
register_app.add_typer(keys_app, name="keys")

WorkdirOption = Annotated[Path, typer.Option("--workdir", help="Thư mục làm việc (chỉ mục, lô, nhật ký truy vấn).")]
KeysOption = Annotated[
    Path | None, typer.Option("--keys", help="Tệp khóa API (mặc định: <workdir>/keys.json).", show_default=False)
]


def register(group: typer.Typer) -> None:
    """Add the register service's commands to the `register` group (the health side adds its own there too)."""
    group.add_typer(register_app)


@register_app.command("serve")
def serve(
    data: Annotated[Path, typer.Option("--data", help="Trích xuất CSDL dân cư (Parquet hoặc CSV, mục 1).")],
    host: Annotated[str, typer.Option(help="Địa chỉ lắng nghe.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Cổng.")] = 8700,
    workdir: WorkdirOption = DEFAULT_WORKDIR,
    keys: KeysOption = None,
    chunk_subjects: Annotated[int, typer.Option(help="Số đối tượng mỗi phần của một lô.")] = 50_000,
    threads: Annotated[int | None, typer.Option(help="Số luồng DuckDB (mặc định: số lõi).")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="Chứng thư máy chủ (PEM) để phục vụ HTTPS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Khóa riêng của máy chủ (PEM).")] = None,
    tls_ca: Annotated[
        Path | None, typer.Option(help="CA của các đơn vị gọi: bắt buộc chứng thư máy khách (mTLS).")
    ] = None,
    idempotency_days: Annotated[
        int, typer.Option(min=1, help="Số ngày giữ câu trả lời theo Idempotency-Key (dài hơn mọi lần gửi lại).")
    ] = 30,
    job_retention_days: Annotated[
        int, typer.Option(min=1, help="Số ngày giữ tệp gửi lên và kết quả của một lô sau khi lô kết thúc.")
    ] = 14,
) -> None:
    """Chạy dịch vụ xác minh (OpenAPI tại /docs)."""
    import ssl
    from datetime import timedelta

    import uvicorn

    from tiemchung.register.service import ServiceConfig, create_app

    if not data.exists():
        raise typer.BadParameter(f"Không thấy tệp dữ liệu dân cư: {data}", param_hint="--data")
    if (tls_cert is None) != (tls_key is None) or (tls_ca is not None and tls_cert is None):
        raise typer.BadParameter("--tls-cert và --tls-key phải đi cùng nhau; --tls-ca cần cả hai.")
    config = ServiceConfig(
        register=data,
        workdir=workdir,
        keys=keys or workdir / "keys.json",
        chunk_subjects=chunk_subjects,
        threads=threads,
        idempotency_retention=timedelta(days=idempotency_days),
        job_retention=timedelta(days=job_retention_days),
    )
    verifier = _open_with_status(config)
    scheme = "https" if tls_cert else "http"
    typer.echo(f"Dịch vụ xác minh tại {scheme}://{host}:{port} (tài liệu OpenAPI: /docs).", err=True)
    uvicorn.run(
        create_app(config, verifier=verifier),
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        ssl_ca_certs=str(tls_ca) if tls_ca else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if tls_ca else ssl.CERT_NONE,
    )


def _open_with_status(config: "ServiceConfig") -> "ConcurrentVerifier":
    """Open the engine's index before serving, with a spinner: the first preparation of a large register takes
    minutes, and the service should not accept connections before it can answer them."""
    import time

    from rich.console import Console

    from tiemchung.register.verifier import open_register

    started = time.perf_counter()
    with Console(stderr=True).status("Đang chuẩn bị chỉ mục CSDL dân cư (lần đầu có thể mất vài phút)..."):
        try:
            verifier = open_register(config.register, config.workdir, threads=config.threads)
        except Exception as error:  # any failure to read the register ends here, with the reason
            typer.echo(f"Không mở được CSDL dân cư {config.register}: {error}", err=True)
            raise typer.Exit(1) from error
    typer.echo(f"Chỉ mục sẵn sàng sau {time.perf_counter() - started:.1f} giây.", err=True)
    return verifier


@register_app.command("sample")
def sample(
    out: Annotated[Path, typer.Option("--out", help="Thư mục ghi tệp mẫu.")] = Path("var/register-sample"),
) -> None:
    """Ghi một CSDL dân cư mẫu rất nhỏ và một tệp đối tượng để thử dịch vụ."""
    from tiemchung.register.sample import write_sample

    register_file, subjects_file = write_sample(out)
    typer.echo(f"Đã ghi {register_file} và {subjects_file}.")


@register_app.command("openapi")
def openapi(workdir: WorkdirOption = DEFAULT_WORKDIR) -> None:
    """In tài liệu OpenAPI của dịch vụ (JSON)."""
    from tiemchung.register.service import ServiceConfig, openapi_json

    typer.echo(openapi_json(ServiceConfig(register=Path("-"), workdir=workdir, keys=workdir / "keys.json")))


def _query_log_path(workdir: Path) -> Path:
    """The service's SQLite file, which must exist: pointed at the wrong folder, a command must not start a new log."""
    path = workdir / "service.sqlite"
    if not path.exists():
        typer.echo(f"Không thấy nhật ký truy vấn {path} (kiểm tra --workdir).", err=True)
        raise typer.Exit(1)
    return path


def _local_time(stored: str | None) -> str:
    from tiemchung.register.querylog import VIETNAM

    if stored is None:
        return "—"
    return datetime.fromisoformat(stored).astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S")


def _default_operator() -> str:
    import getpass
    import socket

    return f"{getpass.getuser()}@{socket.gethostname()}"


@register_app.command("prune-log")
def prune_log(
    before: Annotated[
        datetime,
        typer.Option(
            "--before",
            formats=["%Y-%m-%d"],
            help="Xóa các mục ghi trước ngày này (YYYY-MM-DD, tính từ 0 giờ theo giờ Việt Nam).",
        ),
    ],
    workdir: WorkdirOption = DEFAULT_WORKDIR,
    operator: Annotated[
        str | None,
        typer.Option(help="Người thực hiện, ghi vào lịch sử xóa (mặc định: tài khoản@máy).", show_default=False),
    ] = None,
    reason: Annotated[str, typer.Option(help="Căn cứ xóa (ví dụ số quyết định), ghi vào lịch sử xóa.")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="Không hỏi xác nhận.")] = False,
) -> None:
    """Xóa các mục nhật ký truy vấn cũ (theo quyết định lưu trữ); mỗi lần xóa được ghi lại vĩnh viễn."""
    from tiemchung.register import querylog
    from tiemchung.register.ledger import connect, utc_now

    cutoff = querylog.start_of_day(before.date())
    if cutoff > utc_now():
        raise typer.BadParameter(
            "Ngày không được muộn hơn hôm nay: chỉ xóa được nhật ký đã ghi.", param_hint="--before"
        )
    connection = connect(_query_log_path(workdir))
    try:
        if not _confirm_pruning(querylog.preview(connection, cutoff), f"{before:%Y-%m-%d}", yes):
            return
        pruning = querylog.prune(connection, cutoff, operator=operator or _default_operator(), reason=reason)
    finally:
        connection.close()
    if pruning is None:  # another operator's pruning removed them in the meantime
        typer.echo("Không còn mục nào để xóa.")
        return
    typer.echo(
        f"Đã xóa {pruning.rows} mục (mã {pruning.first_id}–{pruning.last_id}). Lần xóa số {pruning.id} đã được ghi "
        "vào lịch sử xóa nhật ký, bảng không bao giờ bị xóa."
    )


def _confirm_pruning(going: "Span", day: str, yes: bool) -> bool:
    """Say what would go; False when nothing would. Declining ends the command (exit code 1)."""
    if going.entries == 0:
        typer.echo(f"Không có mục nhật ký truy vấn nào ghi trước ngày {day}; không xóa gì.")
        return False
    typer.echo(
        f"Sẽ xóa vĩnh viễn {going.entries} mục nhật ký truy vấn ghi trước ngày {day} "
        f"(từ {_local_time(going.oldest)} đến {_local_time(going.newest)}, giờ Việt Nam)."
    )
    if not yes and not typer.confirm("Tiếp tục xóa?", default=False):
        typer.echo("Đã hủy; không xóa gì.")
        raise typer.Exit(1)
    return True


@register_app.command("log-status")
def log_status(workdir: WorkdirOption = DEFAULT_WORKDIR) -> None:
    """Tình trạng nhật ký truy vấn: số mục, mục cũ nhất và mới nhất, lịch sử xóa, tính liền mạch."""
    from rich.console import Console

    from tiemchung.register import querylog
    from tiemchung.register.ledger import connect

    connection = connect(_query_log_path(workdir))
    try:
        state = querylog.status(connection)
    finally:
        connection.close()
    console = Console()
    console.print(
        f"Nhật ký truy vấn: {state.log.entries} mục, cũ nhất {_local_time(state.log.oldest)}, "
        f"mới nhất {_local_time(state.log.newest)} (giờ Việt Nam)."
    )
    console.print(f"Đã xóa qua các lần xóa có ghi nhận: {state.pruned} mục, trong {len(state.prunings)} lần.")
    if state.prunings:
        console.print(_prunings_table(state.prunings))
    console.print(f"Bộ nhớ Idempotency-Key: {state.idempotency_keys} câu trả lời đang giữ.")
    if state.unaccounted:
        console.print(
            f"[red]CẢNH BÁO: {state.unaccounted} mục (trong {state.last_id} mã đã cấp) không còn trong nhật ký "
            "mà cũng không thuộc lần xóa nào được ghi nhận.[/red]"
        )
        raise typer.Exit(2)  # for a monitoring job: the log is no longer provably complete
    console.print(f"Liền mạch: cả {state.last_id} mã đã cấp đều còn trong nhật ký hoặc thuộc một lần xóa ghi nhận.")


def _prunings_table(prunings: "list[Pruning]") -> "Table":
    from rich.table import Table

    table = Table("Lần", "Thời điểm", "Người thực hiện", "Xóa mục trước", "Số mục", "Mã", "Căn cứ")
    for pruning in prunings:
        table.add_row(
            str(pruning.id),
            _local_time(pruning.started_at),
            pruning.operator,
            _local_time(pruning.before),
            str(pruning.rows),
            f"{pruning.first_id}–{pruning.last_id}",
            pruning.reason,
        )
    return table


@keys_app.command("add")
def keys_add(
    caller: Annotated[str, typer.Option("--caller", help="Tên đơn vị được cấp khóa.")],
    workdir: WorkdirOption = DEFAULT_WORKDIR,
    keys: KeysOption = None,
    rate: Annotated[float, typer.Option(help="Hạn mức: số truy vấn mỗi giây.")] = 200.0,
    burst: Annotated[int, typer.Option(help="Số truy vấn dồn tối đa.")] = 400,
) -> None:
    """Cấp một khóa API mới (chỉ in ra một lần; chỉ lưu mã băm)."""
    from tiemchung.register.keys import KeyStore

    key = KeyStore(keys or workdir / "keys.json").add(caller, rate_per_second=rate, burst=burst)
    typer.echo(key)
    typer.echo(f"Đã cấp khóa cho {caller}. Hãy lưu lại ngay: khóa này sẽ không được hiển thị lại.", err=True)


@keys_app.command("list")
def keys_list(workdir: WorkdirOption = DEFAULT_WORKDIR, keys: KeysOption = None) -> None:
    """Liệt kê các khóa đã cấp (không hiển thị khóa)."""
    from rich.console import Console
    from rich.table import Table

    from tiemchung.register.keys import KeyStore

    table = Table("Mã khóa", "Đơn vị", "Ngày cấp", "Trạng thái")
    for key_id, caller, created_at, live in KeyStore(keys or workdir / "keys.json").list():
        table.add_row(key_id, caller, created_at, "đang dùng" if live else "đã thu hồi")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Mã khóa (phần sau tcr_ và trước dấu chấm).")],
    workdir: WorkdirOption = DEFAULT_WORKDIR,
    keys: KeysOption = None,
) -> None:
    """Thu hồi một khóa (có hiệu lực ngay, không cần khởi động lại dịch vụ)."""
    from tiemchung.register.keys import KeyStore

    if not KeyStore(keys or workdir / "keys.json").revoke(key_id):
        typer.echo(f"Không có khóa đang dùng với mã {key_id}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Đã thu hồi khóa {key_id}.")


# --- the health side's end of the line: sending the registry's requests to the service -------------------------

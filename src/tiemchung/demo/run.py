"""The demo's run: the stages in order with progress on screen, then the web platform until Ctrl-C."""

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table
from sqlalchemy import inspect, select

from tiemchung import reference
from tiemchung.demo import pipeline
from tiemchung.demo.pipeline import DemoError, DemoState
from tiemchung.health.registry.db import make_engine, make_session_factory
from tiemchung.health.registry.migrate import ensure_schema
from tiemchung.health.registry.models import Role, Subject
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings
from tiemchung.interchange.results import Category
from tiemchung.register.keys import KeyStore
from tiemchung.register.process import ServiceProcess

T = TypeVar("T")
REGISTER_CALLER = "bo-y-te-demo"


def run_demo(
    console: Console,
    *,
    database_url: str,
    people: int,
    province_code: str,
    seed: int,
    workdir: Path,
    keys_dir: Path,
    port: int,
    password: str | None,
    serve: bool,
) -> DemoState:

    state = DemoState()
    data_dir, register_dir = workdir / "data", workdir / "register"

    def step(title: str, action: Callable[[], T]) -> T:
        console.rule(f"[bold]{title}")
        return action()

    state.people = step(
        "1. Sinh dữ liệu tổng hợp của một tỉnh",
        lambda: pipeline.generate_province(data_dir, people=people, province_code=province_code, seed=seed),
    )
    _ensure_empty(database_url)
    step("2. Tạo cơ sở dữ liệu sổ tiêm chủng (Alembic)", lambda: ensure_schema(database_url))
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    step("3. Nhập tệp Excel của các cơ sở tiêm chủng", lambda: pipeline.import_records(factory, data_dir, state))
    console.print(
        f"Đã nhập {state.subjects:,} đối tượng, {state.doses:,} mũi tiêm; {state.rejected_rows:,} dòng bị từ chối."
    )
    facilities = step("4. Đăng ký cơ sở tiêm chủng", lambda: pipeline.register_facilities(factory))
    console.print(f"{facilities:,} cơ sở tiêm chủng.")

    api_key = KeyStore(register_dir / "keys.json").add(REGISTER_CALLER)
    console.rule("[bold]5. Khởi động dịch vụ CSDL dân cư (phía Bộ Công an)")
    service = ServiceProcess(data_dir / "register.parquet", register_dir, log_path=workdir / "register-service.log")
    service.start(timeout=600)
    try:
        console.print(f"Dịch vụ xác minh: {service.base_url}/docs")
        with Progress(console=console) as bar:
            step(
                "6. Xác minh mọi đối tượng với CSDL dân cư (theo lô)",
                lambda: pipeline.verify_everyone(factory, service.base_url, api_key, workdir / "batch", _bar(bar)),
            )
        pipeline.count_categories(factory, state)
        console.print(_categories_table(state))
        step("7. Tìm hồ sơ trùng của cùng một người", lambda: pipeline.find_duplicates(factory, state))
        console.print(
            f"{state.duplicate_pairs:,} cặp hồ sơ có thể của cùng một người chờ trạm y tế xem xét "
            "(trang “Hồ sơ trùng”)."
        )
        state.facility_passphrase = password or ""  # the accounts' shared password, when one was given
        signed = step(
            "8. Cơ sở tiêm chủng ký số mũi tiêm theo ngày",
            lambda: pipeline.sign_facility_days(factory, keys_dir, state),
        )
        console.print(
            f"Đã ký {signed:,} ngày tiêm; ngày gần nhất của mỗi cơ sở để chờ cơ sở tự ký trên trang “Ký số trong ngày”."
        )
        step("9. Cấp hộ chiếu vắc xin (EU DCC)", lambda: pipeline.issue_certificates(factory, keys_dir, state))
        console.print(
            f"Đã cấp {state.certificates:,} chứng nhận; từ chối {state.refused_certificates:,} (lý do ghi rõ)."
        )
        state.ward_code = pipeline.busiest_ward(factory)
        step("10. Tạo tài khoản thử cho từng vai trò", lambda: pipeline.create_accounts(factory, state, password))
        step("11. Lập danh sách làm sạch của xã", lambda: pipeline.build_worklist(factory, state))
        console.print(f"Danh sách làm sạch của xã {_ward_name(state.ward_code)}: {state.worklist_lines:,} đối tượng.")
        step(
            "12. Lập báo cáo (xác minh, Phụ lục 1, Phụ lục 2)",
            lambda: pipeline.write_reports(factory, engine, data_dir, workdir / "reports", state),
        )
        for path in state.report_files:
            console.print(f"  {path}")
        if serve:
            _serve(console, state, database_url, service.base_url, api_key, keys_dir, port)
    finally:
        service.stop()
        engine.dispose()
    return state


def _ensure_empty(database_url: str) -> None:

    engine = make_engine(database_url)
    try:
        if "subjects" in inspect(engine).get_table_names():
            with engine.connect() as connection:
                if connection.execute(select(Subject.id).limit(1)).first() is not None:
                    raise DemoError(f"Cơ sở dữ liệu {engine.url} đã có dữ liệu: hãy dùng một cơ sở dữ liệu trống.")
    finally:
        engine.dispose()


def _bar(bar: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return progress


def _categories_table(state: DemoState) -> Table:

    table = Table(title="Kết quả xác minh với CSDL dân cư")
    table.add_column("Kết quả")
    table.add_column("Số đối tượng", justify="right")
    for category, count in sorted(state.categories.items(), key=lambda item: -item[1]):
        label = Category(category).label_vi if category in Category.__members__ else category
        table.add_row(label, f"{count:,}")
    return table


def _ward_name(ward_code: str) -> str:

    ward = reference.ward(ward_code)
    return f"{ward.full_name} ({ward_code})" if ward else ward_code


def web_settings(database_url: str, register_url: str, api_key: str, keys_dir: Path) -> "Settings":
    """The web platform's settings over what the stages made: the same key layout and passphrase file."""

    return Settings(
        database_url=database_url,
        register_url=register_url,
        register_api_key=api_key,
        keys_dir=keys_dir,
        key_passphrase_file=pipeline.passphrase_path(keys_dir),
    )


def _serve(
    console: Console, state: DemoState, database_url: str, register_url: str, api_key: str, keys_dir: Path, port: int
) -> None:
    import uvicorn

    settings = web_settings(database_url, register_url, api_key, keys_dir)
    accounts = Table(title=f"Tài khoản thử (xã {_ward_name(state.ward_code)})")
    for column in ("Vai trò", "Tên đăng nhập", "Mật khẩu"):
        accounts.add_column(column)

    for username, password, role in state.accounts:
        accounts.add_row(Role(role).label_vi, username, password)
    console.print(accounts)
    console.print(f"Mật khẩu khóa ký số của các cơ sở tiêm (trang “Ký số trong ngày”): {state.facility_passphrase}")
    console.print(
        f"[bold green]Nền tảng đang chạy tại http://127.0.0.1:{port}[/] — nhấn Ctrl-C để dừng mọi tiến trình."
    )
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    console.print("Đã dừng trang web và dịch vụ CSDL dân cư.")

"""Commands of the certificates package: `tiemchung cert ...` (keys, facility signatures, issuance, verification)."""

import itertools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL, DatabaseOption

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

cert_app = typer.Typer(
    help="Hộ chiếu vắc xin (chứng nhận tiêm chủng EU DCC): khóa ký, ký số mũi tiêm, cấp, kiểm tra, thu hồi.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Khóa ký: CSCA, DSC, danh sách tin cậy, khóa của cơ sở tiêm.", no_args_is_help=True)

KeysDirOption = Annotated[
    Path,
    typer.Option(
        "--keys-dir",
        envvar="TIEMCHUNG_KEYS_DIR",
        help="Thư mục khóa (như TIEMCHUNG_KEYS_DIR của trang web, ngoài kho mã nguồn): khóa chứng nhận ở "
        "<thư mục>/certificates, khóa của cơ sở tiêm ở <thư mục>/facilities.",
    ),
]
ISSUE_BATCH = 200
NOT_CHECKED_FOR_REVOCATION = (
    "CHƯA KIỂM TRA THU HỒI: chữ ký và thời hạn hợp lệ, nhưng chưa đối chiếu danh sách thu hồi (--revocations), "
    "nên chưa thể kết luận chứng nhận còn hiệu lực."
)
PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        envvar="TIEMCHUNG_KEY_PASSPHRASE_FILE",
        help="Tệp chứa mật khẩu khóa (ngoài kho mã nguồn); mặc định đọc biến TIEMCHUNG_KEY_PASSPHRASE.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    cert_app.add_typer(keys_app, name="keys")
    app.add_typer(cert_app, name="cert")


def _fail(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(message, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(1)


def _passphrase(passphrase_file: Path | None) -> bytes:
    from tiemchung.health.certificates.keys import KeyMaterialError, passphrase_from

    try:
        return passphrase_from(passphrase_file)
    except KeyMaterialError as problem:
        _fail(str(problem))
        raise  # unreachable: _fail exits


def _session_factory(database: str) -> "sessionmaker[Session]":
    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.registry.migrate import ensure_schema

    ensure_schema(database)
    return make_session_factory(make_engine(database))


@keys_app.command("init", help="Tạo CSCA, DSC (ký chứng nhận tiêm chủng) và danh sách tin cậy trong thư mục khóa.")
def keys_init(
    directory: KeysDirOption,
    passphrase_file: PassphraseFileOption = None,
    algorithm: Annotated[str, typer.Option("--alg", help="ES256 (bắt buộc theo EU) hoặc PS256.")] = "ES256",
    country: Annotated[str, typer.Option("--country", help="Mã quốc gia ISO 3166.")] = "VN",
) -> None:
    from rich.console import Console

    from tiemchung.health.certificates.keys import KeyLayout, KeyMaterialError, init_keys

    if algorithm not in ("ES256", "PS256"):
        _fail("Thuật toán phải là ES256 hoặc PS256.")
    chosen: Literal["ES256", "PS256"] = "PS256" if algorithm == "PS256" else "ES256"
    layout = KeyLayout(directory)
    try:
        signer = init_keys(layout.certificates, _passphrase(passphrase_file), country=country, algorithm=chosen)
    except KeyMaterialError as problem:
        _fail(str(problem))
        return
    Console().print(
        f"Đã tạo khóa trong [bold]{layout.certificates}[/bold]: kid {signer.kid.hex()} ({signer.algorithm}), "
        f"DSC hết hạn {signer.not_valid_after:%d/%m/%Y}. Danh sách tin cậy: {layout.trust_list}"
    )


@keys_app.command("rotate", help="Tạo DSC mới từ CSCA; DSC cũ vẫn ở trong danh sách tin cậy.")
def keys_rotate(directory: KeysDirOption, passphrase_file: PassphraseFileOption = None) -> None:
    from rich.console import Console

    from tiemchung.health.certificates.keys import KeyLayout, KeyMaterialError, rotate_dsc

    try:
        signer = rotate_dsc(KeyLayout(directory).certificates, _passphrase(passphrase_file))
    except KeyMaterialError as problem:
        _fail(str(problem))
        return
    Console().print(f"DSC mới: kid {signer.kid.hex()}, hết hạn {signer.not_valid_after:%d/%m/%Y}.")


@keys_app.command(
    "facility",
    help="Tạo khóa ký số cho một cơ sở tiêm (mã hóa bằng mật khẩu riêng của cơ sở) và đăng ký khóa công khai. "
    "Chạy lại khi cơ sở quên mật khẩu: khóa mới thay khóa cũ.",
)
def keys_facility(
    code: Annotated[str, typer.Option("--code", help="Mã cơ sở tiêm chủng.")],
    directory: KeysDirOption,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    facility_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--facility-passphrase-file",
            help="Tệp chứa mật khẩu riêng của cơ sở (ít nhất 10 ký tự); bỏ trống thì nhập từ bàn phím.",
        ),
    ] = None,
) -> None:
    from rich.console import Console

    from tiemchung.health.certificates.keys import KeyLayout, KeyMaterialError, inside_git_work_tree
    from tiemchung.health.certificates.signing import new_facility_key, public_key_pem, write_facility_key
    from tiemchung.health.registry.db import transaction
    from tiemchung.health.registry.models import Facility

    if inside_git_work_tree(directory):
        _fail(f"Thư mục {directory} nằm trong kho mã nguồn: khóa bí mật không được để trong kho.")
    if facility_passphrase_file is not None:
        passphrase = facility_passphrase_file.read_text(encoding="utf-8").strip()
    else:
        passphrase = typer.prompt("Mật khẩu khóa của cơ sở", hide_input=True, confirmation_prompt=True)
    key = new_facility_key()
    with transaction(_session_factory(database)) as session:
        facility = session.get(Facility, code)
        if facility is None:
            _fail(f"Không có cơ sở tiêm chủng mã {code}.")
            return
        try:
            path = write_facility_key(KeyLayout(directory), code, key, passphrase.encode())
        except KeyMaterialError as problem:
            _fail(str(problem))
            return
        facility.public_key_pem = public_key_pem(key)
    Console().print(f"Đã tạo khóa cho cơ sở {code}: {path} (khóa công khai đã đăng ký).")


@cert_app.command("sign-day", help="Cơ sở tiêm ký số các mũi tiêm chưa ký của một ngày.")
def sign_day(
    facility: Annotated[str, typer.Option("--facility", help="Mã cơ sở tiêm chủng.")],
    day: Annotated[datetime, typer.Option("--day", formats=["%Y-%m-%d"], help="Ngày tiêm (YYYY-MM-DD).")],
    directory: KeysDirOption,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    facility_passphrase_file: Annotated[
        Path | None,
        typer.Option("--facility-passphrase-file", help="Tệp chứa mật khẩu của cơ sở; bỏ trống thì nhập từ bàn phím."),
    ] = None,
    signer: Annotated[str, typer.Option("--signer", help="Người ký (ghi vào chữ ký ngày).")] = "",
) -> None:
    from rich.console import Console

    from tiemchung.health.certificates.keys import KeyLayout, KeyMaterialError
    from tiemchung.health.certificates.signing import load_facility_key, sign_facility_day
    from tiemchung.health.registry.db import transaction

    if facility_passphrase_file is not None:
        passphrase = facility_passphrase_file.read_text(encoding="utf-8").strip()
    else:
        passphrase = typer.prompt("Mật khẩu khóa của cơ sở", hide_input=True)
    try:
        private_key = load_facility_key(KeyLayout(directory), facility, passphrase.encode())
    except KeyMaterialError as problem:
        _fail(str(problem))
        return
    with transaction(_session_factory(database)) as session:
        result = sign_facility_day(session, facility, day.date(), private_key, signer=signer or facility)
    if not result.ok:
        _fail(result.reason_vi)
    Console().print(result.reason_vi)


@cert_app.command("unsigned", help="Báo cáo số mũi tiêm đã nhập nhưng chưa ký số, theo cơ sở và ngày.")
def unsigned(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    facility: Annotated[str | None, typer.Option("--facility", help="Chỉ một cơ sở.")] = None,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from tiemchung.health.certificates.signing import unsigned_doses_report

    with _session_factory(database)() as session:
        rows = unsigned_doses_report(session, facility_code=facility)
    table = Table(title="Mũi tiêm chưa ký số trong ngày")
    for column in ("Cơ sở", "Tên cơ sở", "Ngày tiêm", "Đã nhập", "Chưa ký"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.facility_code, row.facility_name, f"{row.day:%d/%m/%Y}", str(row.entered), str(row.unsigned))
    Console().print(table if rows else "Không có mũi tiêm nào chưa ký.")


@cert_app.command("issue", help="Cấp chứng nhận cho các mũi tiêm đủ điều kiện (một đối tượng, hoặc tất cả).")
def issue(
    directory: KeysDirOption,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    subject_key: Annotated[str | None, typer.Option("--subject", help="Mã đối tượng; bỏ trống = tất cả.")] = None,
    passphrase_file: PassphraseFileOption = None,
    actor: Annotated[str, typer.Option("--actor", help="Người cấp (ghi vào nhật ký).")] = "cli",
) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from tiemchung.health.certificates.issuance import certifiable_doses, issue_certificate
    from tiemchung.health.certificates.keys import KeyLayout, KeyMaterialError, load_signer
    from tiemchung.health.registry.db import transaction

    try:
        signer = load_signer(KeyLayout(directory).certificates, _passphrase(passphrase_file))
    except KeyMaterialError as problem:
        _fail(str(problem))
        return
    factory = _session_factory(database)
    with factory() as session:
        pairs = certifiable_doses(session, subject_key=subject_key)
    issued, refused = 0, 0
    with Progress() as progress:
        task = progress.add_task("Đang cấp chứng nhận", total=len(pairs))
        # One transaction per batch: a commit per certificate would cost more than the signature itself.
        for batch in itertools.batched(pairs, ISSUE_BATCH):
            with transaction(factory) as session:
                for subject_id, dose_id in batch:
                    result = issue_certificate(session, subject_id, dose_id, signer=signer, issued_by=actor)
                    issued, refused = issued + result.ok, refused + (not result.ok)
                    if subject_key and not result.ok:
                        progress.console.print(f"Mũi {dose_id}: {result.reason_vi}")
            progress.advance(task, len(batch))
    Console().print(f"Đã cấp/có sẵn: {issued} chứng nhận; không cấp: {refused} mũi.")


@cert_app.command("show", help="Xuất một chứng nhận ra PDF và/hoặc ảnh QR.")
def show(
    uvci: Annotated[str, typer.Argument(help="Mã chứng nhận (URN:UVCI:01:VN:...).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Ghi tệp PDF.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Ghi ảnh QR (PNG).")] = None,
) -> None:
    from rich.console import Console
    from sqlalchemy import select

    from tiemchung.health.certificates import hcert
    from tiemchung.health.certificates.documents import certificate_pdf, displayed_fields
    from tiemchung.health.certificates.models import Certificate
    from tiemchung.health.registry.models import Subject

    with _session_factory(database)() as session:
        certificate = session.scalar(select(Certificate).where(Certificate.uvci == uvci))
        subject = session.get(Subject, certificate.subject_id) if certificate else None
        if certificate is None or subject is None:
            _fail(f"Không có chứng nhận mã {uvci}.")
            return
        for field in displayed_fields(certificate, subject):
            Console().print(f"{field.label_vi} / {field.label_en}: [bold]{field.value}[/bold]")
        if pdf:
            pdf.write_bytes(certificate_pdf(certificate, subject))
        if png:
            png.write_bytes(hcert.qr_png(certificate.hc1))


@cert_app.command(
    "verify", help="Kiểm tra một chứng nhận HC1 (văn bản hoặc ảnh QR) với danh sách tin cậy, ngoại tuyến."
)
def verify(
    trust_list: Annotated[Path, typer.Option("--trust-list", exists=True, help="Danh sách tin cậy (JSON).")],
    text: Annotated[str | None, typer.Argument(help="Chuỗi HC1:...")] = None,
    image: Annotated[Path | None, typer.Option("--image", exists=True, help="Ảnh chứa mã QR.")] = None,
    revocations: Annotated[
        Path | None, typer.Option("--revocations", exists=True, help="Danh sách thu hồi (JSON).")
    ] = None,
    at: Annotated[
        datetime | None, typer.Option("--at", help="Thời điểm kiểm tra (ISO 8601); mặc định là bây giờ.")
    ] = None,
) -> None:
    import json

    from rich.console import Console

    from tiemchung.health.certificates import hcert
    from tiemchung.health.certificates.keys import TrustList
    from tiemchung.health.certificates.revocation import RevocationList
    from tiemchung.health.certificates.verifier import verify_hc1

    content = text
    if image is not None:
        reading = hcert.read_qr(image.read_bytes())
        if reading.text is None:
            _fail(reading.problem_vi)
            return
        content = reading.text
    if not content:
        _fail("Cần một chuỗi HC1 hoặc --image.")
        return
    try:
        trusted = TrustList.load(trust_list)
        revoked = RevocationList.from_json(json.loads(revocations.read_text(encoding="utf-8"))) if revocations else None
    except (ValueError, KeyError, TypeError):
        _fail("Không đọc được danh sách tin cậy hoặc danh sách thu hồi (JSON sai định dạng).")
        return
    report = verify_hc1(content, trusted, now=at.astimezone() if at else None, revocations=revoked)
    console = Console()
    for check in report.checks:
        console.print(f"{'[green]✓' if check.ok else '[red]✗'}[/] {check.message_vi}")
    if report.payload:
        name = report.payload.get("nam", {})
        console.print(f"Người được cấp: {name.get('fn', '')} {name.get('gn', '')} — sinh {report.payload.get('dob')}")
    if not report.valid:
        console.print("[bold red]KHÔNG HỢP LỆ[/]")
        raise typer.Exit(1)
    if revoked is None:
        # Without the list a revoked certificate passes every other check: never call it valid outright.
        console.print(NOT_CHECKED_FOR_REVOCATION, style="bold yellow", markup=False)
        return
    console.print("[bold green]HỢP LỆ[/]")


@cert_app.command("revoke", help="Thu hồi một chứng nhận (ví dụ mũi tiêm trùng lặp).")
def revoke_command(
    uvci: Annotated[str, typer.Argument(help="Mã chứng nhận.")],
    reason: Annotated[str, typer.Option("--reason", help="Lý do thu hồi.")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    actor: Annotated[str, typer.Option("--actor", help="Người thu hồi (ghi vào nhật ký).")] = "cli",
) -> None:
    from rich.console import Console

    from tiemchung.health.certificates.revocation import revoke
    from tiemchung.health.registry.db import transaction

    with transaction(_session_factory(database)) as session:
        result = revoke(session, uvci, reason, revoked_by=actor)
    if not result.ok:
        _fail(result.reason_vi)
    Console().print(result.reason_vi)


@cert_app.command("revocation-list", help="Xuất danh sách thu hồi (băm UVCI, EU 2022/483) ra JSON.")
def revocation_list_command(
    output: Annotated[Path, typer.Option("--out", help="Tệp JSON đầu ra.")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    import json

    from tiemchung.health.certificates.revocation import revocation_list

    with _session_factory(database)() as session:
        published = revocation_list(session)
    output.write_text(json.dumps(published.to_json(), indent=2), encoding="utf-8")
    typer.echo(f"Đã ghi {len(published.hashes)} mã băm vào {output}.")

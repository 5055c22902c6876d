"""Commands of the identity package: `tiemchung identity ...`, to see how the rules read a value typed in a file."""

from typing import Annotated

import typer

from tiemchung.identity import (
    canonical_name,
    check_id_number,
    decode_legacy,
    display_name,
    fold_name,
    icao_name,
    parse_date,
)

# rich is imported inside each command: it takes about 0.4 s, and `tiemchung --help` must stay instant.
identity_app = typer.Typer(
    help="Quy tắc định danh: kiểm tra số CCCD/CMND, ngày, họ tên như khi nhập tệp.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.add_typer(identity_app, name="identity")


@identity_app.command("check-id")
def check_id(values: Annotated[list[str], typer.Argument(help="Các số CCCD/CMND như đã gõ.")]) -> None:
    """Kiểm tra định dạng số CCCD/CMND (bổ sung số 0 bị Excel làm mất, bỏ dấu cách/dấu chấm)."""
    from rich.console import Console
    from rich.table import Table

    table = Table("Giá trị nhập", "Số chuẩn hóa", "Loại", "Kết quả", "Lý do")
    for value in values:
        check = check_id_number(value)
        reasons = "\n".join(finding.message for finding in check.findings)
        table.add_row(value, check.value or "", str(check.kind), _ID_STATUS_VI[check.status], reasons)
    Console().print(table)


@identity_app.command("name")
def name(
    text: Annotated[str, typer.Argument(help="Họ tên như trong ô (có thể ở bảng mã TCVN3 hoặc VNI).")],
    font: Annotated[str | None, typer.Option(help="Phông chữ của ô (.VnTime, VNI-Times...), nếu biết.")] = None,
) -> None:
    """Giải mã bảng mã cũ và cho các dạng chuẩn của họ tên (so khớp, không dấu, hiển thị, ICAO)."""
    from rich.console import Console
    from rich.table import Table

    decoded = decode_legacy(text, font)
    how = "tự nhận biết" if decoded.detected else "theo phông chữ"
    table = Table("Dạng", "Giá trị", show_header=False)
    table.add_row("Bảng mã", f"{decoded.encoding} ({how})")
    table.add_row("Đã giải mã", decoded.text)
    table.add_row("Dạng so khớp", canonical_name(decoded.text))
    table.add_row("Không dấu", fold_name(decoded.text))
    table.add_row("Hiển thị", display_name(decoded.text))
    table.add_row("ICAO 9303", icao_name(decoded.text))
    Console().print(table)


@identity_app.command("date")
def date_command(
    values: Annotated[list[str], typer.Argument(help="Các ngày như đã gõ (dd/mm/yyyy, yyyy-mm-dd, yyyy...).")],
) -> None:
    """Đọc ngày như khi nhập tệp: ngày thiếu, ngày điền thay (01/01/1900, 01/01/YYYY), ngày không hợp lệ."""
    from rich.console import Console
    from rich.table import Table

    table = Table("Giá trị nhập", "Ngày", "Kết quả", "Lý do")
    for value in values:
        check = parse_date(value)
        reasons = "\n".join(finding.message for finding in check.findings)
        table.add_row(value, check.value.iso() if check.value else "", _DATE_STATUS_VI[check.status], reasons)
    Console().print(table)


_ID_STATUS_VI = {
    "valid": "Đúng định dạng",
    "repaired": "Đã sửa (cần xem lại)",
    "invalid": "Sai định dạng",
    "missing": "Không có",
}
_DATE_STATUS_VI = {
    "valid": "Hợp lệ",
    "repaired": "Đã sửa (cần xem lại)",
    "placeholder": "Giá trị điền thay",
    "invalid": "Không hợp lệ",
    "missing": "Không có",
}

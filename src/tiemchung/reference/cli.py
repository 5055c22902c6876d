"""Commands of the reference package: `tiemchung reference ...` (administrative units, vaccines)."""

from typing import Annotated

import typer

from tiemchung.reference import districts, find_province, province_2025_for, provinces, provinces_2025, vaccines

# rich is imported inside each command: it takes about 0.4 s, and `tiemchung --help` must stay instant.
reference_app = typer.Typer(help="Danh mục: tỉnh/huyện/xã (mã GSO), vắc xin và mã EU DCC.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.add_typer(reference_app, name="reference")


@reference_app.command("provinces")
def list_provinces(
    after_2025: Annotated[bool, typer.Option("--2025", help="Danh sách 34 tỉnh, thành phố sau sáp nhập 2025.")] = False,
) -> None:
    """Liệt kê 63 tỉnh, thành phố giai đoạn 2021–2023 (mã GSO, mã đầu số CCCD, tỉnh sau sáp nhập 2025)."""
    from rich.console import Console
    from rich.table import Table

    if after_2025:
        table = Table("Mã", "Tên")
        for new_unit in provinces_2025():
            table.add_row(new_unit.code, new_unit.full_name)
    else:
        table = Table("Mã", "Đầu số CCCD", "Tên", "Từ 2025 thuộc")
        for unit in provinces():
            merged = province_2025_for(unit.code)
            table.add_row(unit.code, "0" + unit.code, unit.full_name, merged.full_name if merged else "")
    Console().print(table)


@reference_app.command("find")
def find(
    name: Annotated[str, typer.Argument(help="Tên tỉnh, có dấu hoặc không, hoặc dạng viết tắt (Tp. HCM).")],
) -> None:
    """Tìm tỉnh, thành phố theo tên và liệt kê các quận, huyện."""
    from rich.console import Console

    console = Console()
    unit = find_province(name)
    if unit is None:
        console.print(f"Không tìm thấy tỉnh, thành phố nào tên “{name}”.")
        raise typer.Exit(1)
    console.print(f"{unit.code} {unit.full_name}")
    for district in districts(unit.code):
        console.print(f"  {district.code} {district.full_name}")


@reference_app.command("vaccines")
def list_vaccines() -> None:
    """Liệt kê 8 vắc xin phòng COVID-19 được cấp phép và mã EU DCC của chúng."""
    from rich.console import Console
    from rich.table import Table

    table = Table("Vắc xin", "Sản phẩm (mp)", "Nhà sản xuất (ma)", "Loại (vp)", "Số mũi cơ bản")
    for vaccine in vaccines():
        table.add_row(
            vaccine.name_vi, vaccine.medicinal_product, vaccine.manufacturer, vaccine.prophylaxis,
            str(vaccine.primary_doses),
        )  # fmt: skip
    Console().print(table)

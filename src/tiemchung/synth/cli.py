"""Commands of the synth package: `tiemchung synth`."""

from pathlib import Path
from typing import Annotated

import typer

SCALE_HELP = (
    "Quy mô dựng sẵn: commune (~10 nghìn người), district (~150 nghìn), province (~1,5 triệu), nation (100 triệu)."
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.command(name="synth", help="Sinh dữ liệu tổng hợp của cả nước (dân cư, mũi tiêm, báo cáo tổng hợp, đáp án).")(
        synth
    )


def synth(
    out: Annotated[Path, typer.Option("--out", help="Thư mục ghi kết quả.")],
    scale: Annotated[str | None, typer.Option("--scale", help=SCALE_HELP)] = None,
    people: Annotated[int | None, typer.Option("--people", help="Số người (thay cho --scale).", min=1)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Hạt giống ngẫu nhiên: cùng hạt giống, cùng dữ liệu.")] = 0,
    xlsx_max_rows: Annotated[
        int, typer.Option("--xlsx-max-rows", help="Chỉ ghi records.xlsx khi số dòng không vượt quá mức này.")
    ] = 200_000,
    provinces: Annotated[
        str | None, typer.Option("--provinces", help="Chỉ sinh cho các tỉnh này (mã GSO, cách nhau bởi dấu phẩy).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Không hiện thanh tiến độ.")] = False,
) -> None:
    from rich.console import Console

    from tiemchung.synth.country import MAX_PEOPLE, SCALES, generate

    console = Console()
    if (scale is None) == (people is None):
        console.print("[red]Cần đúng một trong hai: --scale hoặc --people.[/red]")
        raise typer.Exit(2)
    if scale is not None and scale not in SCALES:
        console.print(f"[red]Quy mô không hợp lệ: {scale}. Chọn một trong: {', '.join(SCALES)}.[/red]")
        raise typer.Exit(2)
    size = SCALES[scale] if scale is not None else int(people or 0)
    if size > MAX_PEOPLE:
        console.print(f"[red]Số người tối đa là {MAX_PEOPLE:,}.[/red]")
        raise typer.Exit(2)
    codes = [code.strip().zfill(2) for code in provinces.split(",")] if provinces else None
    unknown = _unknown_provinces(codes)
    if unknown:
        console.print(f"[red]Mã tỉnh không có trong danh mục 63 tỉnh: {', '.join(unknown)}.[/red]")
        raise typer.Exit(2)
    manifest = generate(
        out, people=size, seed=seed, progress=not quiet, xlsx_max_rows=xlsx_max_rows, province_codes=codes, scale=scale
    )
    counts = manifest.counts
    console.print(
        f"Đã sinh {counts['people']:,} người ({counts['register']:,} trong CSDL dân cư), "
        f"{counts['subjects']:,} đối tượng, {counts['doses']:,} mũi tiêm vào [bold]{out}[/bold]."
    )
    for name, rate in manifest.rates.items():
        console.print(f"  {_RATE_LABELS[name]}: {rate:.1%} (mục tiêu theo báo cáo: {manifest.targets[name]:.1%})")


_RATE_LABELS = {
    "with_valid_id": "Đối tượng có CCCD/CMND đúng định dạng",
    "wrong_among_with_id": "Trong đó xác minh sai thông tin",
    "without_valid_id": "Đối tượng không có hoặc sai định dạng CCCD/CMND",
    "identified_among_without_id": "Trong đó xác minh được",
}


def _unknown_provinces(codes: list[str] | None) -> list[str]:
    if not codes:
        return []
    from tiemchung.synth.tables import province_weights

    known = set(province_weights().values)
    return [code for code in codes if code not in known]

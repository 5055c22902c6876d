"""Render the report workbooks as PNG (LibreOffice → PDF → pdftoppm) and the dashboard (chromium screenshot).

Usage: .venv/bin/python docs/reports/render_reports.py --synth DIR
DIR is a synthetic data set (`tiemchung synth`); the PNGs are written beside this script.
"""

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from tiemchung.health.reconciliation import service
from tiemchung.health.reconciliation.dashboard import dashboard_html
from tiemchung.health.reconciliation.reported import read_synth_aggregates
from tiemchung.health.reconciliation.seedcheck import write_seed_appendix1_workbook
from tiemchung.health.reconciliation.seedfigures import packaged_seeds
from tiemchung.health.reconciliation.sources import ParquetSource, records_to_registry_parquet
from tiemchung.health.reconciliation.unit_report import read_synth_gaps
from tiemchung.health.reconciliation.verification_report import build_verification_report
from tiemchung.health.reconciliation.xlsx import appendix1_workbook, unit_workbook, verification_workbook

HERE = Path(__file__).parent


def to_png(workbook: Path, name: str, work: Path) -> None:
    subprocess.run(
        ["libreoffice", "--headless", f"-env:UserInstallation=file://{work}/lo", "--convert-to", "pdf",
         "--outdir", str(work), str(workbook)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    pdf = work / (workbook.stem + ".pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(HERE / name)], check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synth", type=Path, required=True)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        seed_workbook = work / "seed-001-phu-luc-1.xlsx"
        write_seed_appendix1_workbook(packaged_seeds().appendix1, seed_workbook)
        to_png(seed_workbook, "seed-001-phu-luc-1", work)

        records_to_registry_parquet(
            arguments.synth / "records.parquet", work / "registry", truth=arguments.synth / "truth_subjects.parquet"
        )
        context = service.ReportContext(
            source=ParquetSource.from_backup(work / "registry"),
            reported=read_synth_aggregates(arguments.synth / "aggregates.parquet"),
            unit_reports=read_synth_gaps(arguments.synth / "gaps.parquet"),
        )
        report = service.appendix1(context)
        for workbook, name in (
            (appendix1_workbook(report), "phu-luc-1"),
            (verification_workbook(build_verification_report(context.source)), "bao-cao-xac-minh"),
            (unit_workbook(service.unit_report(context, by_facility=False)), "phu-luc-2"),
        ):
            path = work / f"{name}.xlsx"
            workbook.save(path)
            to_png(path, name, work)
        page = work / "dashboard.html"
        page.write_text(dashboard_html(build_verification_report(context.source), report, []), encoding="utf-8")
        browser = shutil.which("chromium") or "/usr/bin/chromium"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={HERE / 'dashboard.png'}",
             "--window-size=900,1250", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


if __name__ == "__main__":
    main()

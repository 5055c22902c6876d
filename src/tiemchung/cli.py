"""The `tiemchung` command line: one Typer app, each domain package adds its own commands.

Each domain's `cli` module exposes `register(app)`; heavy libraries are imported inside the commands,
so that `tiemchung --help` stays instant.
"""

import importlib

import typer

from tiemchung import cli_messages

cli_messages.install()

app = typer.Typer(
    name="tiemchung",
    help="Nền tảng dữ liệu tiêm chủng COVID-19: sổ tiêm, xác minh với CSDL dân cư, làm sạch, "
    "hộ chiếu vắc xin, đối soát và báo cáo.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    # Shell completion's options carry Typer's English help and no translation hook; nobody documented using them.
    add_completion=False,
)

DOMAINS_WITH_COMMANDS = (
    "reference",
    "identity",
    "synth",
    "registry",
    "duplicates",
    "population",
    "verification",
    "cleaning",
    "certificates",
    "reconciliation",
    "web",
    "demo",
)

for _domain in DOMAINS_WITH_COMMANDS:
    importlib.import_module(f"tiemchung.{_domain}.cli").register(app)


def main() -> None:
    app()

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

# The `register` group holds both sides' commands about the population register: the register side's service
# (serve, keys, sample, ...) and the health side's requests to it (drain, verify-all). Neither side imports the
# other, so the group is made here, above both.
register_group = typer.Typer(
    help="CSDL dân cư: dịch vụ của Bộ Công an (serve, keys, ...) và các lệnh phía y tế gửi yêu cầu xác minh "
    "(drain, verify-all).",
    no_args_is_help=True,
)
app.add_typer(register_group, name="register")

# Each module's `register(group)` adds its commands to the group named beside it, in the order of `--help`.
COMMAND_MODULES = (
    ("tiemchung.reference.cli", app),
    ("tiemchung.identity.cli", app),
    ("tiemchung.synth.cli", app),
    ("tiemchung.health.registry.cli", app),
    ("tiemchung.health.duplicates.cli", app),
    ("tiemchung.register.cli", register_group),
    ("tiemchung.health.verification.cli", register_group),
    ("tiemchung.register.linkage.cli", app),
    ("tiemchung.health.cleaning.cli", app),
    ("tiemchung.health.certificates.cli", app),
    ("tiemchung.health.reconciliation.cli", app),
    ("tiemchung.health.web.cli", app),
    ("tiemchung.demo.cli", app),
)

for _module, _group in COMMAND_MODULES:
    importlib.import_module(_module).register(_group)


def main() -> None:
    app()

"""`python -m tiemchung.register ...`: the register side's commands alone (the same as `tiemchung register ...`).

The register service runs as its own process, on the register side's machines; this entry point starts it without
loading the health side's command groups.
"""

from tiemchung.register.cli import register_app

if __name__ == "__main__":
    register_app(prog_name="tiemchung register")

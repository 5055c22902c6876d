"""A private, throw-away PostgreSQL cluster for the drills that restart, stop or crash the database server.

The machine's PostgreSQL is shared with the other tests, so restarting it would break them: a drill that restarts
the database runs a cluster of its own instead, from the server binaries (`initdb`, `pg_ctl`), in a temporary
directory, on a free port of 127.0.0.1 with its unix socket in the same directory. PostgreSQL refuses to run as
root, so under root (as on CI) its binaries run as the `postgres` user through `runuser`.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.drill_server import free_port
from tests.support.services import unavailable

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
COMMAND_SECONDS = 60


@dataclass
class PrivatePostgres:
    """One cluster: `root` holds the data directory, the log and the socket; the superuser is `postgres` (trust)."""

    root: Path
    bindir: Path
    run_as: list[str]
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        # --no-sync only skips initdb's final flush of a cluster thrown away after the test; the server keeps fsync.
        self._run("initdb", "-D", str(self.data), "-U", SERVER_USER, "--auth=trust", "--encoding=UTF8", "--no-locale",
                  "--no-sync")  # fmt: skip
        # In the configuration file rather than on pg_ctl's command line, so that every start and restart uses it.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n")

    def start(self) -> None:
        """Start and wait until it accepts connections (`-w`)."""
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(COMMAND_SECONDS))

    def stop(self, mode: str = "fast") -> None:
        """`fast` rolls back open transactions and checkpoints; `immediate` is a crash, recovered from the WAL."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", str(COMMAND_SECONDS))

    def restart(self, mode: str = "fast") -> None:
        # -l again: without it the new server would write to pg_ctl's output, a pipe that then never closes.
        self._run("pg_ctl", "restart", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w",
                  "-t", str(COMMAND_SECONDS))  # fmt: skip

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _run(self, program: str, *arguments: str) -> None:
        command = [*self.run_as, str(self.bindir / program), *arguments]
        # cwd: the postgres user may not be allowed into the caller's working directory.
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=COMMAND_SECONDS + 10)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}")

    def discard(self, keep_log_in: Path) -> None:
        """Stop it if it runs (as a crash: nothing of it is kept), keep its log for the test's report, delete it."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate"],
                           cwd=self.root, capture_output=True, timeout=COMMAND_SECONDS)  # fmt: skip
        if self.log.exists():
            shutil.copyfile(self.log, keep_log_in / "postgres.log")
        shutil.rmtree(self.root, ignore_errors=True)


def server_binaries() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: Debian's newest version, else the PATH's."""
    versions = [path for path in DEBIAN_BINARIES.glob("*/bin") if path.parent.name.isdigit()]
    for bindir in sorted(versions, key=lambda path: int(path.parent.name), reverse=True):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as() -> list[str] | None:
    """The command prefix that runs PostgreSQL as a user it accepts (not root); None when there is no way to."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        return None
    return [runuser, "-u", SERVER_USER, "--"] if runuser else None


@contextmanager
def private_postgres(keep_log_in: Path) -> Iterator[PrivatePostgres]:
    """A started cluster of the caller alone; stopped and deleted afterwards, also when the caller fails."""
    bindir, run_as = server_binaries(), _run_as()
    if bindir is None:
        unavailable("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    if run_as is None:
        unavailable(f"running as root, and no `{SERVER_USER}` user with `runuser` to run PostgreSQL as")
    cluster = PrivatePostgres(Path(tempfile.mkdtemp(prefix="tiemchung-pg-")), bindir, run_as, free_port())
    try:
        if run_as:
            shutil.chown(cluster.root, user=SERVER_USER)
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.discard(keep_log_in)

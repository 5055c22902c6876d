"""A TCP proxy between the web app and PostgreSQL that loses the answer to one COMMIT, as a crash during COMMIT does.

PostgreSQL can die after its commit record is on disk and before the answer to COMMIT reaches the app: the
transaction is committed (recovery keeps it) while the app sees a lost connection and must refuse the request without
knowing. Under load the drill meets this now and then (8 times in 60 crashes); this proxy makes it happen every time.
Armed, it forwards the next COMMIT of a transaction that inserted a dose, holds the server's whole answer back (the
answer comes after the commit is durable), runs `at_commit` (the test crashes the server there), and closes the
app's connection without the answer.

It reads the frontend protocol only as far as it needs: the untyped startup message, then typed messages (a type
byte, a 4-byte length that counts itself); statement text is in simple Query ('Q') and Parse ('P') messages, and an
extended-protocol COMMIT ends at its Sync ('S'). The app connects with sslmode=disable and gssencmode=disable: the
proxy speaks no TLS.
"""

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType

DOSE_INSERT = b"INSERT INTO DOSES "  # statements are compared in upper case
ANSWER_SECONDS = 30


class _Stream:
    """Exact reads from a socket; None at the end of the stream."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, size: int) -> bytes | None:
        chunks, wanted = [], size
        while wanted:
            try:
                chunk = self.sock.recv(wanted)
            except OSError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def untyped(self) -> bytes | None:
        header = self.read(4)
        if header is None:
            return None
        body = self.read(struct.unpack("!i", header)[0] - 4)
        return None if body is None else header + body

    def typed(self) -> tuple[bytes, bytes, bytes] | None:
        """(type, body, the whole message)."""
        header = self.read(5)
        if header is None:
            return None
        body = self.read(struct.unpack("!i", header[1:])[0] - 4)
        return None if body is None else (header[:1], body, header + body)


def _statement(kind: bytes, body: bytes) -> bytes:
    if kind == b"Q":
        return body.split(b"\0", 1)[0]
    if kind == b"P":  # statement name, then the text
        return body.split(b"\0", 2)[1]
    return b""


class _Link:
    """One app connection and its server connection."""

    def __init__(self, app: socket.socket, server: socket.socket) -> None:
        self.app, self.server = app, server
        self.hold = threading.Event()  # the server's bytes are held back from now on
        self.answered = threading.Event()  # ...and its answer to the COMMIT has arrived (ReadyForQuery)

    def close(self) -> None:
        for sock in (self.app, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class CommitCutter:
    """`with CommitCutter(port) as cutter:` a proxy to 127.0.0.1:`port` on `cutter.port`; `arm` it for one cut."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.errors: list[BaseException] = []
        self._at_commit: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._links: list[_Link] = []

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable&gssencmode=disable"

    def arm(self, at_commit: Callable[[], None]) -> None:
        """Cut the next COMMIT of a transaction that inserted a dose; run `at_commit` once its answer is held."""
        with self._lock:
            self._at_commit = at_commit

    def __enter__(self) -> "CommitCutter":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.listener.close()
        with self._lock:
            for link in self._links:
                link.close()

    def _accept(self) -> None:
        while True:
            try:
                app, _address = self.listener.accept()
            except OSError:  # closed
                return
            link = _Link(app, socket.create_connection(("127.0.0.1", self.server_port)))
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._upstream, args=(link,), daemon=True).start()
            threading.Thread(target=self._downstream, args=(link,), daemon=True).start()

    def _take_armed(self) -> Callable[[], None] | None:
        with self._lock:
            at_commit, self._at_commit = self._at_commit, None
            return at_commit

    def _upstream(self, link: _Link) -> None:
        """App to server: forward message by message, watching for the COMMIT to cut."""
        stream = _Stream(link.app)
        startup = stream.untyped()
        if startup is None:
            link.close()
            return
        link.server.sendall(startup)
        wrote_dose, cutting = False, False
        while (message := stream.typed()) is not None:
            kind, body, whole = message
            statement = _statement(kind, body).strip().upper()
            wrote_dose = wrote_dose or DOSE_INSERT in statement
            if statement.startswith((b"COMMIT", b"ROLLBACK")):
                if wrote_dose and self._at_commit is not None:
                    cutting = True
                    link.hold.set()
                wrote_dose = False
            try:
                link.server.sendall(whole)
            except OSError:
                break
            if cutting and kind in (b"Q", b"S"):  # the COMMIT is complete: the server answers it now
                self._cut(link)
                return
        link.close()

    def _cut(self, link: _Link) -> None:
        at_commit = self._take_armed()
        try:
            assert link.answered.wait(timeout=ANSWER_SECONDS), "PostgreSQL did not answer the COMMIT"
            if at_commit is not None:
                at_commit()
        except BaseException as error:  # reported by the test, which reads `errors`
            self.errors.append(error)
        finally:
            link.close()
            self.cut.set()

    def _downstream(self, link: _Link) -> None:
        """Server to app: forward, except what comes once the COMMIT is sent: hold it, watching for its end. (The app
        sends COMMIT only after it has read every earlier answer, so all that comes then answers the COMMIT.)"""
        held = b""
        while True:
            try:
                chunk = link.server.recv(65536)
            except OSError:
                return
            if not chunk:
                if not link.hold.is_set():
                    link.close()
                return
            if link.hold.is_set():
                held += chunk
                if _ready_for_query(held):  # the answer is complete: the commit is durable
                    link.answered.set()
                continue
            try:
                link.app.sendall(chunk)
            except OSError:
                return


def _ready_for_query(data: bytes) -> bool:
    """Whether the server's messages in `data` include ReadyForQuery ('Z')."""
    position = 0
    while position + 5 <= len(data):
        if data[position : position + 1] == b"Z":
            return True
        position += 1 + struct.unpack("!i", data[position + 1 : position + 5])[0]
    return False

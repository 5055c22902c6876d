"""A free TCP port on the loopback interface, for the servers the tests start (never a fixed port)."""

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

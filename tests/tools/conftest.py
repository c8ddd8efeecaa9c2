"""Fixtures for the bf and bf-server tests (helpers live in bfhelpers.py)."""

import subprocess

import pytest
from bfhelpers import ServerUnderTest, make_address, require_built


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(address, ...) returns a ready ServerUnderTest; all are stopped after."""
    servers: list[ServerUnderTest] = []

    def start(*addresses: str, extra: tuple[str, ...] = (), backend: str | None = "emu") -> ServerUnderTest:
        require_built("_proto", "worker", "libbfemu")
        server = ServerUnderTest(list(addresses), tmp_path / f"bf-server-{len(servers)}.log", *extra,
                                 backend=backend)
        servers.append(server)
        return server

    yield start
    for server in servers:
        try:
            server.stop(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(params=["tcp", "unix"])
def address(request):
    """A fresh loopback TCP or abstract unix address (every server test runs over both)."""
    return make_address(request.param)

"""A real SSH bastion for tests: asyncssh's server on 127.0.0.1, in a background thread, forwarding direct-tcpip.

The MySQL host the extractor is given (``HIDDEN_HOST``) does not resolve: only the bastion maps it to the
real MariaDB, so a connection that bypasses the tunnel fails instead of passing unnoticed.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import asyncssh

HIDDEN_HOST = "mysql.behind-bastion.invalid"  # .invalid never resolves (RFC 2606)
USER = "etl"


@dataclass
class Bastion:
    """What the test's SSH server saw; ``forward=False`` makes it refuse every forward."""

    mysql_host: str
    mysql_port: int
    password: str
    authorized_key: asyncssh.SSHKey
    forward: bool = True
    host_key: asyncssh.SSHKey = field(default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519"))
    port: int = 0
    connections: int = 0  # SSH connections accepted
    clean_closes: int = 0  # SSH connections the client closed cleanly
    channels: list[tuple[str, int]] = field(default_factory=list)  # direct-tcpip requests
    open_connections: list[asyncssh.SSHServerConnection] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncssh.SSHAcceptor | None = None
    _thread: threading.Thread | None = None

    def known_hosts_line(self, key: asyncssh.SSHKey | None = None) -> str:
        public = (key or self.host_key).export_public_key().decode().strip()
        return f"[127.0.0.1]:{self.port} {public}\n"

    def start(self) -> Bastion:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-bastion", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(10)
        self.port = self._server.get_port()
        return self

    async def _listen(self) -> asyncssh.SSHAcceptor:
        authorized = asyncssh.import_authorized_keys(self.authorized_key.export_public_key().decode())
        return await asyncssh.listen(
            "127.0.0.1", 0, server_factory=lambda: _Server(self), server_host_keys=[self.host_key],
            authorized_client_keys=authorized, config=[],
        )

    def drop_connections(self) -> None:
        """Close every client's SSH connection from the server side (a bastion restart)."""
        assert self._loop

        async def drop() -> None:
            for conn in self.open_connections:
                conn.close()
                await conn.wait_closed()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(10)

    def stop(self) -> None:
        assert self._loop and self._server and self._thread

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class _Server(asyncssh.SSHServer):
    def __init__(self, bastion: Bastion) -> None:
        super().__init__()
        self._bastion = bastion
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._bastion.connections += 1
        self._bastion.open_connections.append(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._bastion.clean_closes += 1

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == self._bastion.password

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int):  # noqa: ANN201
        self._bastion.channels.append((dest_host, dest_port))
        if not self._bastion.forward:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "forwarding disabled")
        if (dest_host, dest_port) != (HIDDEN_HOST, self._bastion.mysql_port):
            return False
        assert self._conn is not None
        return self._conn.forward_connection(self._bastion.mysql_host, self._bastion.mysql_port)

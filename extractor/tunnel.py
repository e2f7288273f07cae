"""SSH tunnels: one local port forward per source with ``ssh_tunnel``, opened on first use, shared by the process.

Every MySQL connection of such a source (pymysql's control and reader connections, connectorx's) asks
:func:`endpoint` where to connect; the first caller opens the SSH connection and a listener on
``127.0.0.1:<free port>`` that forwards to the source's ``host:port`` as the bastion sees it. Later callers,
threads included, get the same port; a tunnel the bastion dropped is reopened on the next call. Tunnels are
closed at exit.

asyncssh rather than paramiko: asyncssh forwards a local port itself (``forward_local_port``: one event
loop in one background thread serves every forwarded connection), checks host keys against OpenSSH
``known_hosts`` files, and has an SSH server the tests run for real. paramiko has no local forwarding: it
needs a hand-written socket server with a thread per connection (what the ``sshtunnel`` package adds).

A bastion that refuses to forward is only seen when a forwarded connection is opened (asyncssh then closes
the local socket, and MySQL clients report a lost connection), so :func:`forward_refusal` asks the bastion
once more, on that failure path only, and says why.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from extractor.errors import ConfigError, SourceError, SourceUnreachable
from extractor.secrets import redact, secret_value

if TYPE_CHECKING:  # asyncssh is imported by the first tunnel: a run without one does not pay ~140 ms for it
    import asyncssh

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The local end of every tunnel: loopback only, never reachable from other machines.
LOCAL_HOST = "127.0.0.1"
#: Seconds between SSH keepalives; three unanswered ones close a tunnel, which the next connect reopens.
_KEEPALIVE_SECONDS = 30


class _Tunnel(Protocol):
    host: str
    port: int
    username: str
    key_file: str | None
    key_passphrase: Any  # SecretStr
    password: Any  # SecretStr
    known_hosts: str
    insecure_skip_host_key_check: bool


@dataclass
class _Open:
    """One open tunnel: the SSH connection and its local listener."""

    connection: asyncssh.SSHClientConnection
    listener: asyncssh.SSHListener
    port: int


_LOCK = threading.Lock()  # held while a tunnel opens: parallel tables wait for it rather than open their own
_LOOP_LOCK = threading.Lock()
_OPEN: dict[tuple[Any, str, int], _Open] = {}
_LOOP: asyncio.AbstractEventLoop | None = None
_THREAD: threading.Thread | None = None


def endpoint(source: Any) -> tuple[str, int]:
    """Where to connect for ``source``: its own ``host:port``, or the local end of its SSH tunnel.

    The tunnel is opened on the first call (SourceError or ConfigError, one line, if it cannot be).
    """
    tunnel = getattr(source, "ssh_tunnel", None)
    if tunnel is None:
        return source.host, int(source.port)
    key = (tunnel, source.host, int(source.port))
    with _LOCK:
        opened = _OPEN.get(key)
        if opened is not None and opened.connection.is_closed():
            log.warning("%s: the SSH tunnel was closed; reopening it", _where(source, tunnel))
            _loop().call_soon_threadsafe(opened.listener.close)
            _OPEN.pop(key)
            opened = None
        if opened is None:
            try:
                opened = _run(_open(source, tunnel), timeout=int(source.connect_timeout) + 5)
            except TimeoutError:
                raise SourceError(f"the SSH tunnel did not open within {source.connect_timeout} s",
                                  where=_where(source, tunnel),
                                  hint="check that the bastion answers (connect_timeout sets the wait)") from None
            _OPEN[key] = opened
            log.info("%s: SSH tunnel open on %s:%d", _where(source, tunnel), LOCAL_HOST, opened.port)
    return LOCAL_HOST, opened.port


def address(source: Any) -> str:
    """``host:port`` of ``source`` for messages, with the bastion when it is reached through one."""
    tunnel = getattr(source, "ssh_tunnel", None)
    via = f" via SSH {tunnel.host}:{tunnel.port}" if tunnel is not None else ""
    return f"{source.host}:{source.port}{via}"


def secrets(source: Any) -> list[str]:
    """The tunnel's secrets (SSH password, key passphrase), for redaction; empty without a tunnel."""
    tunnel = getattr(source, "ssh_tunnel", None)
    if tunnel is None:
        return []
    return [s for s in (tunnel.password.get_secret_value(), tunnel.key_passphrase.get_secret_value()) if s]


def forward_refusal(source: Any) -> SourceUnreachable | None:
    """Why the bastion refuses to forward to ``source`` (an error to raise: it may pass), or None.

    For the failure path of a connect through an open tunnel only: the probe is a TCP connection to MySQL
    that is closed without a handshake, which MySQL counts against ``max_connect_errors``.
    """
    tunnel = getattr(source, "ssh_tunnel", None)
    if tunnel is None:
        return None
    opened = _OPEN.get((tunnel, source.host, int(source.port)))
    if opened is None or opened.connection.is_closed():
        return None
    import asyncssh

    async def probe() -> str | None:
        try:
            _, writer = await opened.connection.open_connection(source.host, int(source.port))
        except asyncssh.ChannelOpenError as exc:
            return exc.reason or "refused"
        writer.close()
        return None

    try:
        reason = _run(probe(), timeout=int(source.connect_timeout) + 5)
    except (OSError, asyncssh.Error):
        return None
    if reason is None:
        return None
    return SourceUnreachable(
        f"the SSH bastion refused to forward to {source.host}:{source.port}: {_redact(reason, source)}",
        where=_where(source, tunnel),
        hint=f"check that the bastion reaches {source.host}:{source.port} (host and port as the bastion sees "
             "them) and allows TCP forwarding (AllowTcpForwarding in its sshd_config)",
    )


def close_all() -> None:
    """Close every tunnel of this process (also run at exit)."""
    with _LOCK:
        opened = list(_OPEN.values())
        _OPEN.clear()
    if not opened:
        return
    import asyncssh

    for each in opened:
        try:
            _run(_close(each), timeout=5)
        except (OSError, asyncssh.Error, TimeoutError):  # closing at exit: nothing left to tell anyone
            pass


async def _close(opened: _Open) -> None:
    opened.listener.close()
    opened.connection.close()
    await opened.listener.wait_closed()
    await opened.connection.wait_closed()


# ---------------------------------------------------------------------------------------------------------
# Opening


def _client_factory(presented: list[tuple[asyncssh.SSHKey, str, str, int | None]]) -> Any:
    import asyncssh

    class _Client(asyncssh.SSHClient):
        """Remembers the host key the bastion presented when it is not trusted (for the error message)."""

        def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
            """Called only for a key that known_hosts does not trust: record it and refuse it."""
            presented.append((key, host, addr, port))
            return False

    return _Client


async def _open(source: Any, tunnel: _Tunnel) -> _Open:
    import asyncssh

    where = _where(source, tunnel)
    client_keys = _client_keys(source, tunnel)
    known_hosts = _known_hosts(source, tunnel)
    presented: list[tuple[asyncssh.SSHKey, str, str, int | None]] = []
    options: dict[str, Any] = {
        "username": tunnel.username,
        "client_keys": client_keys,  # None: no public key authentication
        "agent_path": None,  # only the configured credentials, never an agent's keys
        "known_hosts": known_hosts,
        "config": [],  # ~/.ssh/config is not read: connections.yml says everything
        "preferred_auth": "publickey,keyboard-interactive,password",
        "connect_timeout": int(source.connect_timeout),
        "keepalive_interval": _KEEPALIVE_SECONDS,
        "keepalive_count_max": 3,
    }
    if tunnel.password.get_secret_value():
        options["password"] = tunnel.password.get_secret_value()
    try:
        connection, _ = await asyncssh.create_connection(
            _client_factory(presented), tunnel.host, int(tunnel.port), **options,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise _host_key_error(source, tunnel, presented) from None
    except asyncssh.PermissionDenied:
        tried = " and ".join(
            ([f"key {tunnel.key_file}"] if tunnel.key_file else [])
            + (["a password"] if tunnel.password.get_secret_value() else [])
        )
        raise SourceError(
            f"SSH authentication as {tunnel.username!r} failed (tried {tried})", where=where,
            hint="check ssh_tunnel.username, key_file and password in connections.yml, and that the key is "
                 "in the bastion's authorized_keys",
        ) from None
    except asyncssh.DisconnectError as exc:
        raise SourceError(f"the SSH bastion closed the connection: {_redact(exc.reason, source)}", where=where,
                          hint="check ssh_tunnel.host and port: is an SSH server listening there?") from None
    except TimeoutError:
        raise SourceError(
            f"no answer from the SSH bastion within {source.connect_timeout} s", where=where,
            hint="check ssh_tunnel.host and port and that a firewall lets this machine reach it "
                 "(connect_timeout of the connection sets the wait)",
        ) from None
    except OSError as exc:  # refused, unknown host name, unreachable network
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror or str(exc)
        raise SourceError(
            f"cannot reach the SSH bastion: {_redact(reason, source)}", where=where,
            hint="check ssh_tunnel.host and port in connections.yml and that the bastion is up",
        ) from None
    try:
        listener = await connection.forward_local_port(LOCAL_HOST, 0, source.host, int(source.port))
    except (OSError, asyncssh.Error) as exc:
        connection.close()
        raise SourceError(f"cannot open the local end of the SSH tunnel: {_redact(str(exc), source)}",
                          where=where, hint="check that this machine can listen on 127.0.0.1") from None
    return _Open(connection, listener, listener.get_port())


def _client_keys(source: Any, tunnel: _Tunnel) -> list[asyncssh.SSHKey] | None:
    import asyncssh

    if not tunnel.key_file:
        return None
    name = getattr(source, "name", None) or source.host
    where = f"ssh_tunnel.key_file of connection '{name}'"
    passphrase = tunnel.key_passphrase.get_secret_value() or None
    try:
        return [asyncssh.read_private_key(tunnel.key_file, passphrase)]
    except OSError as exc:
        raise ConfigError(f"cannot read the SSH key {tunnel.key_file}: {exc.strerror or exc}", where=where,
                          hint="set key_file to the private key the bastion accepts") from None
    except (asyncssh.KeyEncryptionError, asyncssh.KeyImportError) as exc:
        encrypted = isinstance(exc, asyncssh.KeyEncryptionError) or "passphrase" in str(exc).lower()
        if not encrypted:
            raise ConfigError(f"{tunnel.key_file} is not a private key: {_redact(str(exc), source)}", where=where,
                              hint="point key_file at the private key (not the .pub file), OpenSSH or PEM "
                                   "format") from None
        hint = "set key_passphrase" if passphrase is None else "check key_passphrase"
        raise ConfigError(f"cannot decrypt the SSH key {tunnel.key_file}", where=where,
                          hint=f"{hint} (e.g. key_passphrase: \"${{SSH_KEY_PASSPHRASE}}\")") from None


def _known_hosts(source: Any, tunnel: _Tunnel) -> Any:
    """What asyncssh checks the bastion's key against: the file's entries, none (file missing), or no check."""
    if tunnel.insecure_skip_host_key_check:
        log.warning("%s: host key checking is off (insecure_skip_host_key_check)", _where(source, tunnel))
        return None
    import asyncssh

    path = Path(tunnel.known_hosts)
    if not path.exists():
        return ([], [], [])  # nothing trusted: the bastion's key is reported with the fix
    try:
        return asyncssh.read_known_hosts(str(path))
    except (OSError, ValueError) as exc:
        name = getattr(source, "name", None) or source.host
        raise ConfigError(f"cannot read known_hosts file {path}: {getattr(exc, 'strerror', None) or exc}",
                          where=f"ssh_tunnel.known_hosts of connection '{name}'",
                          hint="fix the file or point known_hosts at another one") from None


def _host_key_error(
    source: Any, tunnel: _Tunnel, presented: list[tuple[asyncssh.SSHKey, str, str, int | None]],
) -> SourceError:
    import asyncssh

    where = _where(source, tunnel)
    file = tunnel.known_hosts
    port_opt = f"-p {tunnel.port} " if int(tunnel.port) != 22 else ""
    entry = f"[{tunnel.host}]:{tunnel.port}" if int(tunnel.port) != 22 else tunnel.host
    if not presented:
        return SourceError(f"the bastion's host key is not trusted by {file}", where=where,
                           hint=f"add it: ssh-keyscan {port_opt}{tunnel.host} >> {file} (check its fingerprint)")
    key, host, addr, port = presented[0]
    shown = f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"
    known: list[Any] = []
    if Path(file).exists():
        try:
            known = list(asyncssh.read_known_hosts(file).match(host, addr, port)[0])
        except (OSError, ValueError):
            known = []
    if known:
        return SourceError(
            f"the bastion's host key ({shown}) does not match the one {file} has for it: the bastion was "
            "reinstalled, or someone is intercepting the connection", where=where,
            hint=f"only if its administrator confirms the new fingerprint: ssh-keygen -R '{entry}' -f {file}, "
                 f"then ssh-keyscan {port_opt}{tunnel.host} >> {file}",
        )
    missing = "" if Path(file).exists() else " (the file does not exist)"
    return SourceError(
        f"the bastion's host key ({shown}) is not in {file}{missing}", where=where,
        hint=f"check the fingerprint with the bastion's administrator, then add it: "
             f"ssh-keyscan {port_opt}{tunnel.host} >> {file} (or set ssh_tunnel.known_hosts to a file that has it)",
    )


def _where(source: Any, tunnel: _Tunnel) -> str:
    name = getattr(source, "name", None)
    of = f" of connection '{name}'" if name else ""
    return f"SSH bastion {tunnel.host}:{tunnel.port}{of}"


def _redact(text: str, source: Any) -> str:
    return redact(str(text), [*secrets(source), secret_value(source)])


# ---------------------------------------------------------------------------------------------------------
# The event loop every tunnel runs in


def _run(coro: Coroutine[Any, Any, _T], *, timeout: float) -> _T:
    """Run ``coro`` in the tunnels' event loop (started on first use) and wait for its result."""
    future = asyncio.run_coroutine_threadsafe(coro, _loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP, _THREAD
    with _LOOP_LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="ssh-tunnels", daemon=True)
            thread.start()
            _LOOP, _THREAD = loop, thread
            atexit.register(_shutdown)
        return _LOOP


def _shutdown() -> None:
    close_all()
    if _LOOP is not None:
        _LOOP.call_soon_threadsafe(_LOOP.stop)
    if _THREAD is not None:
        _THREAD.join(timeout=5)

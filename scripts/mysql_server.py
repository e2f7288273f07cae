"""Find a MySQL-compatible server, or start a throwaway MariaDB from installed binaries.

Used by the test harness (tests/conftest.py) and by `make demo`. Resolution order:

1. ``MYSQL_HOST``/``MYSQL_PORT``/``MYSQL_USER``/``MYSQL_PASSWORD`` if a server answers there
   (defaults 127.0.0.1:3306, root, empty password);
2. a server this script started earlier in ``.local/mariadb`` (demo) or a temp dir (tests);
3. start ``mariadbd`` from the installed binaries (``mariadb-install-db`` + ``mariadbd``).

If no server answers and no binaries are installed, it fails with the command that installs them.

CLI: ``python scripts/mysql_server.py ensure [--datadir DIR]`` prints ``KEY=VALUE`` lines for the
environment; ``python scripts/mysql_server.py stop --datadir DIR`` stops a server it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "sudo apt-get install -y mariadb-server  (Debian/Ubuntu; or set MYSQL_HOST/MYSQL_PORT to a server)"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str
    started_here: bool = False
    datadir: str | None = None

    def env(self) -> dict[str, str]:
        return {
            "MYSQL_HOST": self.host,
            "MYSQL_PORT": str(self.port),
            "MYSQL_USER": self.user,
            "MYSQL_PASSWORD": self.password,
        }


def _answers(host: str, port: int, user: str, password: str) -> bool:
    try:
        import pymysql
    except ImportError:  # pragma: no cover - the venv always has it
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((host, port)) == 0
    try:
        conn = pymysql.connect(host=host, port=port, user=user, password=password, connect_timeout=2)
    except Exception:
        return False
    conn.close()
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(*names: str) -> str | None:
    for name in names:
        for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/local/sbin/{name}"):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
    return None


def start(datadir: Path, port: int | None = None) -> Server:
    """Initialise (once) and start a MariaDB in ``datadir`` listening on 127.0.0.1 only."""
    server_bin = _binary("mariadbd", "mysqld")
    install_db = _binary("mariadb-install-db", "mysql_install_db")
    if not server_bin or not install_db:
        raise SystemExit(f"no MySQL server answers and no MariaDB binaries are installed: run {INSTALL_HINT}")
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    port_file = datadir / "port"
    if port_file.exists():
        old_port = int(port_file.read_text())
        if _answers("127.0.0.1", old_port, "root", ""):
            return Server("127.0.0.1", old_port, "root", "", started_here=True, datadir=str(datadir))
    data = datadir / "data"
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    if not (data / "mysql").exists():
        subprocess.run(
            [install_db, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
             "--skip-test-db", *user_args],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    port = port or _free_port()
    log = open(datadir / "server.log", "ab")
    proc = subprocess.Popen(
        [server_bin, "--no-defaults", f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--socket={datadir / 'mysqld.sock'}", f"--pid-file={datadir / 'mysqld.pid'}",
         "--innodb-buffer-pool-size=512M", "--max-connections=300", "--skip-name-resolve", *user_args],
        stdout=log, stderr=log, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mariadbd exited with {proc.returncode}; see {datadir / 'server.log'}")
        if _answers("127.0.0.1", port, "root", ""):
            port_file.write_text(str(port))
            return Server("127.0.0.1", port, "root", "", started_here=True, datadir=str(datadir))
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"mariadbd did not answer on 127.0.0.1:{port} within 60 s; see {datadir / 'server.log'}")


def stop(datadir: Path) -> None:
    pid_file = Path(datadir) / "mysqld.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def ensure(datadir: Path) -> Server:
    """Return a server that answers: the configured one, or one started in ``datadir``."""
    host = os.environ.get("MYSQL_HOST", "127.0.0.1")
    port = int(os.environ.get("MYSQL_PORT", "3306"))
    user = os.environ.get("MYSQL_USER", "root")
    password = os.environ.get("MYSQL_PASSWORD", "")
    if _answers(host, port, user, password):
        return Server(host, port, user, password)
    if os.environ.get("MYSQL_HOST") or os.environ.get("MYSQL_PORT"):
        raise SystemExit(f"no MySQL server answers at {host}:{port} (MYSQL_HOST/MYSQL_PORT are set)")
    return start(datadir)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "ensure"
    datadir = Path(".local/mariadb")
    if "--datadir" in argv:
        datadir = Path(argv[argv.index("--datadir") + 1])
    if cmd == "ensure":
        server = ensure(datadir)
        for key, value in server.env().items():
            print(f"{key}={value}")
        return 0
    if cmd == "stop":
        stop(datadir)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Shared test harness: a real MariaDB (found or started), a moto S3 server, per-test databases."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("mysql_server_script", ROOT / "scripts" / "mysql_server.py")
assert _spec and _spec.loader
mysql_server_script = importlib.util.module_from_spec(_spec)
sys.modules["mysql_server_script"] = mysql_server_script
_spec.loader.exec_module(mysql_server_script)


@dataclass(frozen=True)
class MySQLDatabase:
    """One throwaway database on the test server."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def connect(self, **kwargs: object) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            database=self.database, autocommit=True, **kwargs,  # type: ignore[arg-type]
        )

    def execute(self, *statements: str, params: object = None) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql, params)
        finally:
            conn.close()

    def query(self, sql: str, params: object = None) -> list[tuple]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()

    def env(self) -> dict[str, str]:
        return {
            "MYSQL_HOST": self.host, "MYSQL_PORT": str(self.port),
            "MYSQL_USER": self.user, "MYSQL_PASSWORD": self.password, "MYSQL_DATABASE": self.database,
        }


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[object]:
    """A MySQL-compatible server over TCP: the one configured/running, or a throwaway MariaDB."""
    tmp = Path(tempfile.mkdtemp(prefix="extractor-mariadb-"))
    try:
        server = mysql_server_script.ensure(tmp)
    except SystemExit as exc:  # no server answers and none can be started: say how to get one
        pytest.exit(str(exc), returncode=3)
    yield server
    if server.started_here:
        mysql_server_script.stop(tmp)


@pytest.fixture
def mysql_db(mysql_server, request) -> Iterator[MySQLDatabase]:  # noqa: ANN001
    """A fresh database per test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(host=mysql_server.host, port=mysql_server.port, user=mysql_server.user,
                            password=mysql_server.password, autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    db = MySQLDatabase(mysql_server.host, mysql_server.port, mysql_server.user, mysql_server.password, name)
    try:
        yield db
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@dataclass(frozen=True)
class S3Endpoint:
    """A moto S3 server (real HTTP) and credentials that boto3, pyarrow and s3fs accept."""

    url: str
    region: str = "us-east-1"
    access_key: str = "testing"
    secret_key: str = "testing"

    def client(self):  # noqa: ANN201
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = S3Endpoint(url=f"http://{host}:{port}")
    yield endpoint
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket; AWS_* variables point every client at the moto server."""
    name = f"lake-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.url)
    s3_server.client().create_bucket(Bucket=name)
    yield name


@pytest.fixture(autouse=True)
def _isolated_cwd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's own config or env by accident."""
    for var in ("EXTRACTOR_CONFIG_DIR", "EXTRACTOR_ENV"):
        monkeypatch.delenv(var, raising=False)
    os.environ.setdefault("TZ", "UTC")

"""ssh_tunnel: every MySQL connection of a source goes through one SSH port forward, against a real SSH server.

The bastion (tests/extractor/_bastion.py) is asyncssh's server on 127.0.0.1 forwarding to the real MariaDB;
the source's host only resolves on the bastion, so nothing can reach MySQL around the tunnel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import asyncssh
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from _bastion import HIDDEN_HOST, USER, Bastion

from extractor import tunnel
from extractor.config import load_project
from extractor.errors import ConfigError, SourceError

ROOT = Path(__file__).resolve().parents[2]
READERS = ["connectorx", "pymysql"]
SSH_PASSWORD = f"ssh-pw-{uuid.uuid4().hex[:12]}"
PASSPHRASE = f"key-pp-{uuid.uuid4().hex[:12]}"
LINEAGE = ("_extracted_at", "_batch_id", "_op")


@pytest.fixture(autouse=True)
def _close_tunnels():
    yield
    tunnel.close_all()


@pytest.fixture
def client_key(tmp_path) -> Path:
    """An encrypted OpenSSH-format ed25519 key (the bastion authorizes it); its passphrase is PASSPHRASE."""
    path = tmp_path / "id_ed25519"
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path), passphrase=PASSPHRASE)
    path.chmod(0o600)
    return path


@pytest.fixture
def bastion(mysql_db, client_key):
    key = asyncssh.read_private_key(str(client_key), PASSPHRASE)
    server = Bastion(mysql_db.host, mysql_db.port, SSH_PASSWORD, key).start()
    yield server
    server.stop()


@pytest.fixture
def known_hosts(tmp_path, bastion) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(bastion.known_hosts_line())
    return path


def use_tunnel(workspace, bastion, **settings: object) -> None:
    """``--env tunnel``: sales_mysql at a host only the bastion knows, through ``ssh_tunnel: settings``."""
    ssh = {"host": "127.0.0.1", "port": bastion.port, "username": USER, **settings}
    body = {"connections": {"sources": {"sales_mysql": {"host": HIDDEN_HOST, "ssh_tunnel": ssh}}}}
    (workspace.config_dir / "environments" / "tunnel.yml").write_text(yaml.safe_dump(body))


def by_key(workspace, lake: Path, table: str, schema: str = "sales_raw") -> list[dict]:
    files = sorted((lake / "data" / "sales_mysql" / workspace.db.database / schema / table).rglob("*.parquet"))
    assert files, f"nothing landed for {table} in {lake}"
    landed = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    rows = landed.drop_columns([c for c in LINEAGE if c in landed.column_names]).to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))


def sync(workspace, lake: Path, *args: str) -> dict:
    os.environ["EXTRACTOR_LAKE"] = str(lake)  # set by the workspace fixture's monkeypatch, which restores it
    result = workspace.cli("sync", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result, exit_code: int, *fragments: str) -> str:
    assert result.exit_code == exit_code, result.output
    err = result.stderr
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in err, err
    return err


# ------------------------------------------------------------------------------------------- data through it


@pytest.mark.parametrize("reader", READERS)
def test_a_pipeline_sync_through_the_tunnel_lands_the_same_rows_as_a_direct_sync(
    workspace, bastion, client_key, known_hosts, tmp_path, reader,
):
    assert workspace.cli("sample", "create", "--orders", "300").exit_code == 0
    direct = sync(workspace, tmp_path / "direct", "-p", "sales", "--reader", reader)
    use_tunnel(workspace, bastion, key_file=str(client_key), key_passphrase=PASSPHRASE,
               known_hosts=str(known_hosts))

    tunneled = sync(workspace, tmp_path / "tunneled", "-p", "sales", "--env", "tunnel", "--reader", reader)

    assert [(t["table"], t["rows"]) for t in tunneled["tables"]] == [(t["table"], t["rows"]) for t in direct["tables"]]
    assert sum(t["rows"] for t in tunneled["tables"]) > 300
    for table in ("customers", "products", "orders", "order_items"):
        assert by_key(workspace, tmp_path / "tunneled", table) == by_key(workspace, tmp_path / "direct", table)
    assert bastion.connections == 1 and bastion.channels  # one SSH connection carried every MySQL connection
    assert set(bastion.channels) == {(HIDDEN_HOST, workspace.db.port)}


@pytest.mark.parametrize("reader", READERS)
def test_an_ad_hoc_sync_through_the_tunnel_lands_the_same_rows_as_a_direct_one(
    workspace, bastion, known_hosts, tmp_path, reader,
):
    assert workspace.cli("sample", "create", "--orders", "200").exit_code == 0
    tables = ["-t", f"{workspace.db.database}.orders", "-t", f"{workspace.db.database}.products"]
    adhoc = ("--source", "sales_mysql", "--target-schema", "adhoc_raw", *tables, "--reader", reader)
    direct = sync(workspace, tmp_path / "unused", *adhoc, "--lake", str(tmp_path / "direct"))
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(known_hosts))

    report = sync(workspace, tmp_path / "unused", *adhoc, "--lake", str(tmp_path / "tunneled"), "--env", "tunnel")

    products = workspace.db.query("SELECT COUNT(*) FROM products")[0][0]
    expected = {"orders": 200, "products": products}
    assert {t["table"]: t["rows"] for t in report["tables"]} == {t["table"]: t["rows"] for t in direct["tables"]} == expected
    for table in ("orders", "products"):
        assert by_key(workspace, tmp_path / "tunneled", table, "adhoc_raw") == by_key(
            workspace, tmp_path / "direct", table, "adhoc_raw")
    assert bastion.channels and set(bastion.channels) == {(HIDDEN_HOST, workspace.db.port)}


def test_connections_test_list_and_info_through_the_tunnel(workspace, bastion, client_key, known_hosts):
    use_tunnel(workspace, bastion, key_file=str(client_key), key_passphrase=PASSPHRASE, password=SSH_PASSWORD,
               known_hosts=str(known_hosts))

    tested = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel", "--json")
    assert tested.exit_code == 0, tested.output
    [result] = json.loads(tested.stdout)
    assert result["status"] == "ok" and "MariaDB" in result["detail"]
    assert f"via SSH 127.0.0.1:{bastion.port}" in result["detail"] and bastion.channels

    listed = workspace.cli("connections", "list", "--env", "tunnel")
    assert f"{HIDDEN_HOST}:{workspace.db.port}/{workspace.db.database} via ssh 127.0.0.1:{bastion.port}" in listed.stdout
    info = workspace.cli("connections", "info", "sales_mysql", "--env", "tunnel", "--json")
    shown = json.loads(info.stdout)["ssh_tunnel"]
    assert shown["password"] == "***" and shown["key_passphrase"] == "***" and shown["key_file"] == str(client_key)
    assert SSH_PASSWORD not in info.output + listed.output + tested.output
    assert PASSPHRASE not in info.output + listed.output + tested.output


def test_the_tunnel_is_opened_once_per_process_shared_by_parallel_tables_and_closed_at_exit(
    workspace, bastion, known_hosts, tmp_path,
):
    assert workspace.cli("sample", "create", "--orders", "500").exit_code == 0
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(known_hosts))
    pipeline = (workspace.config_dir / "pipelines" / "sales.yml").read_text()
    assert "parallelism: 2" in pipeline  # customers and products (one dependency level) run in two threads
    env = {**os.environ, "EXTRACTOR_LAKE": str(tmp_path / "lake"), "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [sys.executable, "-m", "extractor", "sync", "-p", "sales", "--env", "tunnel", "--json",
         "--config-dir", str(workspace.config_dir)],
        env=env, capture_output=True, text=True, timeout=300,
    )

    assert done.returncode == 0, done.stderr
    assert sum(t["rows"] for t in json.loads(done.stdout)["tables"]) > 500
    assert done.stderr == ""
    assert bastion.connections == 1  # every connection, every thread, one SSH connection
    assert len(bastion.channels) >= 8  # control connections and readers of four tables
    for _ in range(50):  # the server may see the close a moment after the process ended
        if bastion.clean_closes:
            break
        time.sleep(0.1)
    assert bastion.clean_closes == 1  # closed by the extractor at exit, not dropped


def test_threads_asking_for_the_tunnel_at_once_share_one(bastion, known_hosts, mysql_db):
    from extractor.config import SourceConnection

    source = SourceConnection(
        name="via_bastion", host=HIDDEN_HOST, port=mysql_db.port, username=mysql_db.user,
        ssh_tunnel={"host": "127.0.0.1", "port": bastion.port, "username": USER, "password": SSH_PASSWORD,
                    "known_hosts": str(known_hosts)},
    )
    ports: list[tuple[str, int]] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        ports.append(tunnel.endpoint(source))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for each in threads:
        each.start()
    for each in threads:
        each.join(30)
    assert len(ports) == 8 and len(set(ports)) == 1 and ports[0][0] == "127.0.0.1"
    assert bastion.connections == 1

    from extractor import mysql

    conn = mysql.connect(source)
    try:
        assert mysql.scalar(conn, "SELECT @@session.time_zone") == "+00:00"
    finally:
        conn.close()
    assert bastion.connections == 1


def test_a_tunnel_the_bastion_dropped_is_reopened_on_the_next_connect(bastion, known_hosts, mysql_db, caplog):
    from extractor import mysql
    from extractor.config import SourceConnection

    source = SourceConnection(
        name="via_bastion", host=HIDDEN_HOST, port=mysql_db.port, username=mysql_db.user,
        ssh_tunnel={"host": "127.0.0.1", "port": bastion.port, "username": USER, "password": SSH_PASSWORD,
                    "known_hosts": str(known_hosts)},
    )
    mysql.connect(source).close()
    bastion.drop_connections()
    for _ in range(50):  # the client sees the disconnect a moment later
        if tunnel._OPEN and all(t.connection.is_closed() for t in tunnel._OPEN.values()):
            break
        time.sleep(0.1)

    conn = mysql.connect(source)
    try:
        assert mysql.scalar(conn, "SELECT 1") == 1
    finally:
        conn.close()
    assert bastion.connections == 2 and "reopening it" in caplog.text


# ------------------------------------------------------------------------------------------------- failures


def test_a_wrong_ssh_password_is_one_line_without_any_secret(workspace, bastion, known_hosts, mysql_db, monkeypatch):
    user, mysql_password = f"u_{uuid.uuid4().hex[:10]}", f"My-{uuid.uuid4().hex}"
    mysql_db.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{mysql_password}'")
    try:
        monkeypatch.setenv("MYSQL_USER", user)
        monkeypatch.setenv("MYSQL_PASSWORD", mysql_password)
        use_tunnel(workspace, bastion, password=SSH_PASSWORD + "x", known_hosts=str(known_hosts))

        tested = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")
        synced = workspace.cli("sync", "-p", "sales", "--env", "tunnel")
    finally:
        mysql_db.execute(f"DROP USER '{user}'@'%'")

    err = one_line_error(tested, 3, f"SSH bastion 127.0.0.1:{bastion.port} of connection 'sales_mysql'",
                         f"SSH authentication as '{USER}' failed (tried a password)", "check ssh_tunnel.username")
    one_line_error(synced, 3, "SSH authentication")  # a source that cannot be reached: one error per run
    for secret in (SSH_PASSWORD, mysql_password):
        assert secret not in tested.output + synced.output + err


def test_a_key_the_bastion_does_not_accept_is_one_line_without_the_passphrase(
    workspace, bastion, known_hosts, tmp_path,
):
    other = tmp_path / "other_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(other), passphrase=PASSPHRASE)
    use_tunnel(workspace, bastion, key_file=str(other), key_passphrase=PASSPHRASE, known_hosts=str(known_hosts))

    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")

    one_line_error(result, 3, f"SSH authentication as '{USER}' failed (tried key {other})")
    assert PASSPHRASE not in result.output


@pytest.mark.parametrize("passphrase", [None, "wrong-passphrase-value"], ids=["missing", "wrong"])
def test_a_key_that_cannot_be_decrypted_is_a_config_error(workspace, bastion, client_key, known_hosts, passphrase):
    extra = {"key_passphrase": passphrase} if passphrase else {}
    use_tunnel(workspace, bastion, key_file=str(client_key), known_hosts=str(known_hosts), **extra)

    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")

    one_line_error(result, 2, f"cannot decrypt the SSH key {client_key}", "key_passphrase")
    assert PASSPHRASE not in result.output and "wrong-passphrase-value" not in result.output
    assert bastion.connections == 0


def test_a_missing_key_file_is_a_config_error(workspace, bastion, known_hosts, tmp_path):
    use_tunnel(workspace, bastion, key_file=str(tmp_path / "nope"), known_hosts=str(known_hosts))
    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")
    one_line_error(result, 2, f"cannot read the SSH key {tmp_path / 'nope'}", "key_file")


@pytest.mark.parametrize("known", ["other host", "no file"])
def test_an_unknown_host_key_is_one_line_with_the_fix(workspace, bastion, tmp_path, known):
    path = tmp_path / "known_hosts"
    if known == "other host":
        path.write_text("[127.0.0.1]:1 " + bastion.host_key.export_public_key().decode())
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(path))

    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")

    fingerprint = bastion.host_key.get_fingerprint("sha256")
    one_line_error(result, 3, f"the bastion's host key (ssh-ed25519 {fingerprint}) is not in {path}",
                   f"ssh-keyscan -p {bastion.port} 127.0.0.1 >> {path}")
    assert ("does not exist" in result.stderr) == (known == "no file")
    assert bastion.channels == []


def test_a_changed_host_key_is_one_line_that_warns_of_interception(workspace, bastion, tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(bastion.known_hosts_line(asyncssh.generate_private_key("ssh-ed25519")))
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(path))

    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")

    one_line_error(result, 3, "does not match the one", "intercepting",
                   f"ssh-keygen -R '[127.0.0.1]:{bastion.port}' -f {path}")
    assert bastion.channels == []


def test_host_key_checking_can_be_turned_off_explicitly_with_a_warning(workspace, bastion, tmp_path, caplog):
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(tmp_path / "none"),
               insecure_skip_host_key_check=True)
    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")
    assert result.exit_code == 0, result.output
    assert "host key checking is off" in caplog.text


def test_a_file_that_is_no_key_is_a_config_error(workspace, bastion, tmp_path):
    public = tmp_path / "id.pub"
    public.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_public_key())
    use_tunnel(workspace, bastion, key_file=str(public), key_passphrase=PASSPHRASE)
    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")
    one_line_error(result, 2, f"{public} is not a private key", "not the .pub file")
    assert PASSPHRASE not in result.output


def test_a_closed_bastion_port_is_one_line(workspace, bastion, known_hosts):
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(known_hosts))
    env = workspace.config_dir / "environments" / "tunnel.yml"
    env.write_text(env.read_text().replace(f"port: {bastion.port}", f"port: {closed}"))

    result = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")

    one_line_error(result, 3, f"SSH bastion 127.0.0.1:{closed} of connection 'sales_mysql'",
                   "cannot reach the SSH bastion", "check ssh_tunnel.host and port")
    assert SSH_PASSWORD not in result.output


@pytest.mark.parametrize("reader", READERS)
def test_a_bastion_that_refuses_to_forward_is_one_line(workspace, bastion, known_hosts, reader):
    bastion.forward = False
    use_tunnel(workspace, bastion, password=SSH_PASSWORD, known_hosts=str(known_hosts))

    tested = workspace.cli("connections", "test", "sales_mysql", "--env", "tunnel")
    synced = workspace.cli("sync", "-p", "sales", "--env", "tunnel", "--reader", reader)

    one_line_error(tested, 3, f"the SSH bastion refused to forward to {HIDDEN_HOST}:{workspace.db.port}",
                   "forwarding disabled", "AllowTcpForwarding")
    one_line_error(synced, 3, "refused to forward")
    assert SSH_PASSWORD not in tested.output + synced.output


# ------------------------------------------------------------------------------------------------ config


def test_ssh_tunnel_keys_are_validated_like_every_other_key(workspace, bastion):
    use_tunnel(workspace, bastion, password="x", key_fle="~/.ssh/id_ed25519")
    with pytest.raises(ConfigError) as caught:
        load_project(workspace.config_dir, "tunnel")
    text = str(caught.value)
    assert "tunnel.yml:" in text and "unknown key 'key_fle' under 'ssh_tunnel'" in text
    assert "did you mean 'key_file'?" in text

    use_tunnel(workspace, bastion)
    with pytest.raises(ConfigError, match="ssh_tunnel needs 'key_file' or 'password'"):
        load_project(workspace.config_dir, "tunnel")


def test_paths_expand_the_home_directory_and_secrets_stay_hidden(workspace, bastion):
    use_tunnel(workspace, bastion, key_file="~/.ssh/id_ed25519", key_passphrase=PASSPHRASE)
    project = load_project(workspace.config_dir, "tunnel")
    ssh = project.source("sales_mysql").ssh_tunnel
    assert ssh is not None
    assert ssh.key_file == str(Path.home() / ".ssh" / "id_ed25519")
    assert ssh.known_hosts == str(Path.home() / ".ssh" / "known_hosts") and not ssh.insecure_skip_host_key_check
    assert PASSPHRASE not in repr(project) + str(project.source("sales_mysql").redacted())


def test_a_source_without_a_tunnel_connects_directly_and_imports_no_ssh(mysql_db):
    probe = ("import sys; from extractor import mysql, tunnel; "
             "print(tunnel.endpoint(type('S', (), {'host': 'h', 'port': 1})()), 'asyncssh' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["('h',", "1)", "False"]


def test_errors_name_the_connection_and_are_source_errors(bastion, tmp_path, mysql_db):
    from extractor import mysql
    from extractor.config import SourceConnection

    source = SourceConnection(
        name="via_bastion", host=HIDDEN_HOST, port=mysql_db.port, username="root", connect_timeout=5,
        ssh_tunnel={"host": "127.0.0.1", "port": bastion.port, "username": USER, "password": "wrong",
                    "known_hosts": str(tmp_path / "absent")},
    )
    with pytest.raises(SourceError) as caught:
        mysql.connect(source)
    assert str(caught.value).startswith(f"SSH bastion 127.0.0.1:{bastion.port} of connection 'via_bastion': ")

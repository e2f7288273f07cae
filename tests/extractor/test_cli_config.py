"""The `extractor` CLI: version, config and connections commands, one-line errors, secrets never printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor import __version__
from extractor.cli import app

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = str(ROOT / "config")
SECRET = "s3cr3t-value"
SOURCE_VARS = ("MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE", "SALES_DB")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (*SOURCE_VARS, "EXTRACTOR_LAKE", "DBT_DUCKDB_PATH", "REDSHIFT_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DBT_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, out: str, err: str, expected_code: int, fragment: str) -> None:
    assert code == expected_code
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err
    assert "Traceback" not in out + err


def test_version():
    assert run("version") == (0, f"extractor {__version__}\n", "")


def test_start_up_skips_the_pydantic_plugin_scan_unless_asked_for():
    """Plugin discovery scans every installed distribution (~70 ms of each command); the CLI has none."""
    import os

    probe = "import extractor.cli, pydantic.plugin._loader as l; print(l._plugins is None)"
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    skipped = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert skipped.stdout.strip() == "True"
    asked = subprocess.run([sys.executable, "-c", probe], env={**env, "PYDANTIC_DISABLE_PLUGINS": "none"},
                           capture_output=True, text=True, check=True)
    assert asked.stdout.strip() == "False"


def test_the_cli_starts_without_the_extraction_stack():
    """`--help`, `version` and the config commands do not pay for pyarrow, pymysql and the pipeline."""
    probe = "import sys, extractor.cli; print(sorted(m for m in ('pyarrow', 'pymysql', 'extractor.sync') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize("as_json", [False, True])
def test_list_pipelines(as_json):
    code, out, _ = run("config", "list-pipelines", "--config-dir", SHIPPED, *(["--json"] if as_json else []))
    assert code == 0
    if as_json:
        assert [(p["name"], p["tables"], p["target_schema"]) for p in json.loads(out)] == [
            ("sales", 4, "sales_raw")
        ]
    else:
        assert out.split()[:4] == ["sales", "sales_mysql", "local_duckdb", "sales_raw"]


def test_show_pipeline_json_is_the_resolved_config(monkeypatch, tmp_path):
    monkeypatch.setenv("SALES_DB", "elsewhere")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("config", "show-pipeline", "sales", "--config-dir", SHIPPED, "--env", "ci", "--json")
    data = json.loads(out)
    assert code == 0 and data["env"] == "ci"
    assert data["tables"]["orders"]["source_table"] == "elsewhere.orders"
    assert data["defaults"]["batch_rows"] == 5000 and data["lake"] == str(tmp_path / "lake")
    assert data["connections"]["source"]["name"] == "sales_mysql"


def test_config_dir_comes_from_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run("config", "validate"), 2, "config directory config does not exist")
    monkeypatch.setenv("EXTRACTOR_CONFIG_DIR", SHIPPED)
    assert run("config", "validate") == (0, "OK  sales  (4 tables)\n", "")


@pytest.mark.parametrize("args", [(), ("sales",), ("sales", "--env", "prod")])
def test_validate_prints_ok_per_pipeline(args):
    assert run("config", "validate", *args, "--config-dir", SHIPPED) == (0, "OK  sales  (4 tables)\n", "")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("config", "validate", "sale"), 2, "no pipeline 'sale' in"),
        (("config", "show-pipeline", "sale"), 2, "did you mean 'sales'?"),
        (("config", "validate", "--env", "staging"), 2, "no environment 'staging'"),
        (("connections", "info", "sales_mysq"), 2, "did you mean 'sales_mysql'?"),
        (("connections", "test"), 2, "give one connection NAME or --all"),
    ],
)
def test_errors_are_one_line_with_the_error_exit_code(args, code, fragment):
    assert_one_line_error(*run(*args, "--config-dir", SHIPPED), code, fragment)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("config", "validate", "sale"), 2, "no pipeline 'sale' in"),
        (("sync", "-p", "nosuch"), 2, "no pipeline 'nosuch' in"),
        (("verify", "-p", "nosuch"), 2, "no pipeline 'nosuch' in"),
        (("watermark", "list", "-p", "nosuch"), 2, "no pipeline 'nosuch' in"),
        (("watermark", "get", "-p", "sales", "-t", "custmers"), 2, "did you mean 'customers'?"),
        (("connections", "test", "sales_mysql"), 3, "cannot connect to MySQL"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else None,
)
def test_json_errors_are_one_json_object_on_stdout(monkeypatch, args, code, fragment):
    monkeypatch.setenv("MYSQL_PORT", "1")  # nothing listens there
    got, out, err = run(*args, "--config-dir", SHIPPED, "--json")
    assert_one_line_error(got, "", err, code, fragment)  # stderr keeps the text line
    assert json.loads(out) == {"ok": False, "error": err.removeprefix("error: ").rstrip("\n"), "exit_code": code}


def test_json_config_errors_are_json_on_stdout(tmp_path):
    config = tmp_path / "config"
    (config / "pipelines").mkdir(parents=True)
    (config / "connections.yml").write_text("connections: {sources: [\n")
    code, out, err = run("config", "list-pipelines", "--config-dir", str(config), "--json")
    assert code == 2 and json.loads(out)["error"] in err and "invalid YAML" in err
    code, out, _ = run("config", "list-pipelines", "--config-dir", str(config))
    assert (code, out) == (2, "")  # without --json stdout stays empty


def test_invalid_config_fails_validation_with_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config"
    (config / "pipelines").mkdir(parents=True)
    (config / "connections.yml").write_text((ROOT / "config" / "connections.yml").read_text())
    text = (
        (ROOT / "config" / "pipelines" / "sales.yml")
        .read_text()
        .replace("cursor_column:", "cursor_colum:", 1)
    )
    (config / "pipelines" / "sales.yml").write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "cursor_colum:" in s)
    assert_one_line_error(
        *run("config", "validate"),
        2,
        f"config/pipelines/sales.yml:{line}: unknown key 'cursor_colum' in table 'customers'",
    )


def test_connections_list_and_info():
    code, out, _ = run("connections", "list", "--config-dir", SHIPPED, "--json")
    assert code == 0
    assert [(c["name"], c["kind"], c["type"]) for c in json.loads(out)] == [
        ("sales_mysql", "source", "mysql"),
        ("local_duckdb", "target", "duckdb"),
        ("redshift", "target", "redshift"),
    ]
    code, out, _ = run("connections", "info", "sales_mysql", "--config-dir", SHIPPED, "--json")
    assert code == 0 and json.loads(out)["host"] == "127.0.0.1" and json.loads(out)["port"] == 3306


COMMANDS = [
    ("config", "list-pipelines"),
    ("config", "list-pipelines", "--json"),
    ("config", "show-pipeline", "sales"),
    ("config", "show-pipeline", "sales", "--json"),
    ("config", "show-pipeline", "sales", "--env", "prod", "--json"),
    ("config", "validate"),
    ("config", "validate", "--json"),
    ("connections", "list"),
    ("connections", "list", "--json"),
    ("connections", "info", "sales_mysql"),
    ("connections", "info", "sales_mysql", "--json"),
    ("connections", "info", "sales_mysq"),
    ("connections", "test", "sales_mysql"),
    ("connections", "test", "--all"),
    ("connections", "test", "--all", "--json"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_password_is_never_printed(monkeypatch, args):
    monkeypatch.setenv("MYSQL_PASSWORD", SECRET)
    monkeypatch.setenv("REDSHIFT_PASSWORD", SECRET)
    monkeypatch.setenv("MYSQL_PORT", "1")  # nothing listens there: `connections test` fails, and says why
    code, out, err = run(*args, "--config-dir", SHIPPED)
    assert SECRET not in out + err
    if "info" in args and "sales_mysql" in args:
        assert '"***"' in out or "'***'" in out


def test_password_is_never_printed_in_config_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("MYSQL_PASSWORD", SECRET)
    config = tmp_path / "config"
    (config / "pipelines").mkdir(parents=True)
    conn = (ROOT / "config" / "connections.yml").read_text()
    (config / "connections.yml").write_text(
        conn.replace('password: "${MYSQL_PASSWORD:-}"', 'password: ["${MYSQL_PASSWORD}"]')
    )
    code, out, err = run("connections", "list", "--config-dir", str(config))
    assert code == 2 and "invalid 'password'" in err and SECRET not in out + err


def test_connections_test_reaches_the_real_mariadb(mysql_db, monkeypatch):
    for key, value in mysql_db.env().items():
        monkeypatch.setenv(key, value)
    code, out, err = run("connections", "test", "sales_mysql", "--config-dir", SHIPPED, "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert result["status"] == "ok" and result["latency_ms"] >= 0
    server_version = mysql_db.query("SELECT VERSION()")[0][0]
    assert server_version in result["detail"]


def test_connections_test_with_a_wrong_password_fails_without_showing_it(mysql_db, monkeypatch):
    for key, value in mysql_db.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MYSQL_USER", "extractor_nobody")
    monkeypatch.setenv("MYSQL_PASSWORD", SECRET)
    code, out, err = run("connections", "test", "sales_mysql", "--config-dir", SHIPPED)
    assert_one_line_error(code, out, err, 3, "cannot connect to MySQL")
    assert SECRET not in out + err


def test_connections_test_all_reports_each_and_fails_when_one_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("MYSQL_PORT", "1")
    code, out, err = run("connections", "test", "--all", "--config-dir", SHIPPED, "--json")
    statuses = {r["name"]: r["status"] for r in json.loads(out)}
    assert statuses == {"sales_mysql": "failed", "local_duckdb": "ok", "redshift": "skipped"}
    assert_one_line_error(code, out, err, 3, "1 of 3 connections failed: sales_mysql")


def test_connections_test_opens_an_existing_duckdb_file(tmp_path):
    import duckdb

    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    code, out, _ = run("connections", "test", "local_duckdb", "--config-dir", SHIPPED)
    assert code == 0 and out.startswith("ok") and "duckdb v" in out


def test_python_dash_m_extractor_prints_one_error_line_and_no_traceback(tmp_path):
    missing = tmp_path / "missing"
    proc = subprocess.run(
        [sys.executable, "-m", "extractor", "config", "validate", "--config-dir", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "", "MYSQL_PASSWORD": SECRET},
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert (
        proc.stderr == f"error: config directory {missing} does not exist — pass --config-dir or set "
        "EXTRACTOR_CONFIG_DIR\n"
    )


@pytest.mark.parametrize(("args", "fragment"), [
    (["custmers"], "no table 'custmers' in any pipeline — did you mean 'customers'?"),
    (["custmers", "-p", "sales"], "no table 'custmers' in pipeline 'sales' — did you mean 'customers'?"),
    (["customers", "-p", "nosuch"], "no pipeline 'nosuch'"),
])
def test_lock_break_of_an_unknown_table_names_it_and_suggests_one(args, fragment):
    assert_one_line_error(*run("lock", "break", *args, "--config-dir", SHIPPED), 2, fragment)


@pytest.mark.parametrize(("args", "fragment"), [
    (["sync", "--limit", "0"], "error: extractor sync: Invalid value for '--limit'"),
    (["synk"], "No such command 'synk'. Did you mean 'sync'? — see 'extractor --help'"),
    (["watermark", "set", "-t", "orders"], "Missing option '--value'"),
])
def test_usage_errors_are_one_line_naming_the_command(args, fragment):
    assert_one_line_error(*run(*args), 2, fragment)


def test_a_bare_command_group_prints_its_help():
    code, out, err = run("watermark")
    assert code == 2 and "Usage: " in out + err and "error" not in out + err


def test_a_usage_error_with_json_is_also_a_json_object_on_stdout():
    code, out, err = run("sync", "--limit", "0", "--json")
    assert code == 2 and err.startswith("error: extractor sync: Invalid value for '--limit'")
    assert json.loads(out) == {"ok": False, "error": err.removeprefix("error: ").strip(), "exit_code": 2}

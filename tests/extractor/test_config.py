"""config.py: loading, interpolation, line-accurate errors, static validation, environments, ordering."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from extractor import mysql
from extractor.config import (
    Pipeline,
    SourceConnection,
    TableConfig,
    adhoc_pipeline,
    load_project,
    resolve_config_dir,
)
from extractor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config"

CONNECTIONS = """\
connections:
  sources:
    src:
      host: "${T_HOST:-127.0.0.1}"
      port: "${T_PORT:-3306}"
      database: shop
      username: root
      password: "${T_PASSWORD:-}"
  targets:
    wh: {type: duckdb, path: wh.duckdb}
"""

PIPELINE = """\
pipeline:
  name: shop
  source: src
  target: wh
  target_schema: raw
tables:
  customers:
    source_table: shop.customers
    cursor_column: updated_at
    id_columns: [customer_id]
  orders:
    source_table: shop.orders
    cursor_column: updated_at
    id_columns: [order_id]
    depends_on: [customers]
"""

Factory = Callable[..., Path]


@pytest.fixture
def make_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Factory:
    """Write a config dir under a temporary cwd; returns the dir (errors then say ``config/…:line``)."""
    monkeypatch.chdir(tmp_path)
    for var in ("T_HOST", "T_PORT", "T_PASSWORD", "T_DB", "SALES_DB"):
        monkeypatch.delenv(var, raising=False)

    def make(
        connections: str = CONNECTIONS, pipeline: str | None = PIPELINE, envs: dict[str, str] | None = None
    ) -> Path:
        root = tmp_path / "config"
        (root / "pipelines").mkdir(parents=True, exist_ok=True)
        (root / "environments").mkdir(exist_ok=True)
        (root / "connections.yml").write_text(textwrap.dedent(connections))
        if pipeline is not None:
            (root / "pipelines" / "shop.yml").write_text(textwrap.dedent(pipeline))
        for name, text in (envs or {}).items():
            (root / "environments" / f"{name}.yml").write_text(textwrap.dedent(text))
        return root

    return make


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


def with_table(body: str, name: str = "orders") -> str:
    """PIPELINE with table ``name`` replaced by ``body`` (YAML lines at table level)."""
    head = PIPELINE.split("  orders:")[0] if name == "orders" else PIPELINE
    return head + f"  {name}:\n" + textwrap.indent(textwrap.dedent(body), "    ")


def load_error(root: Path, env: str | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_project(root, env)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text and "pydantic" not in text.lower()
    return text


# ------------------------------------------------------------------------------------------------ shipped


@pytest.mark.parametrize("env", [None, "dev", "ci", "prod"])
def test_shipped_config_loads_in_every_environment_without_any_variable_set(env, monkeypatch):
    for var in (
        "MYSQL_HOST",
        "MYSQL_PORT",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "MYSQL_DATABASE",
        "SALES_DB",
        "EXTRACTOR_LAKE",
        "REDSHIFT_HOST",
        "REDSHIFT_PORT",
    ):
        monkeypatch.delenv(var, raising=False)
    project = load_project(SHIPPED, env)
    assert set(project.pipelines) == {"sales"}
    assert project.source("sales_mysql").port == 3306
    assert project.target("redshift").port == 5439


def test_shipped_sales_pipeline_matches_the_sample_schema(monkeypatch):
    monkeypatch.delenv("SALES_DB", raising=False)
    sales = load_project(SHIPPED).pipeline("sales")
    summary = {
        t.name: (t.source_table, t.cdc_strategy, t.cursor_column, t.id_columns, t.table_type, t.depends_on)
        for t in sales.tables.values()
    }
    assert summary == {
        "customers": ("sales.customers", "hybrid", "updated_at", ["customer_id"], "dimension", []),
        "products": ("sales.products", "full_sync", None, ["product_id"], "dimension", []),
        "orders": ("sales.orders", "hybrid", "updated_at", ["order_id"], "fact", ["customers"]),
        "order_items": (
            "sales.order_items",
            "hybrid",
            "updated_at",
            ["order_id", "line_no"],
            "fact",
            ["orders", "products"],
        ),
    }
    assert (sales.source, sales.target, sales.target_schema) == ("sales_mysql", "local_duckdb", "sales_raw")


def test_sales_source_database_is_overridable_for_tests(monkeypatch):
    monkeypatch.setenv("SALES_DB", "t_abc123")
    sales = load_project(SHIPPED).pipeline("sales")
    assert {t.source_db for t in sales.tables.values()} == {"t_abc123"}


# ------------------------------------------------------------------------------------------ interpolation


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "127.0.0.1"), ("", "127.0.0.1"), ("db.internal", "db.internal")]
)
def test_interpolation_uses_the_variable_or_its_default(make_config, monkeypatch, value, expected):
    if value is not None:
        monkeypatch.setenv("T_HOST", value)
    assert load_project(make_config()).source("src").host == expected


def test_interpolated_port_is_coerced_to_int(make_config, monkeypatch):
    monkeypatch.setenv("T_PORT", "3307")
    assert load_project(make_config()).source("src").port == 3307


def test_interpolation_applies_inside_longer_strings(make_config, monkeypatch):
    monkeypatch.setenv("T_DB", "other")
    root = make_config(pipeline=PIPELINE.replace("shop.orders", "${T_DB}.orders"))
    assert load_project(root).pipeline("shop").table("orders").source_table == "other.orders"


def test_missing_variable_is_named_with_file_and_line(make_config):
    text = CONNECTIONS.replace("username: root", "username: ${T_USER_MISSING}")
    error = load_error(make_config(connections=text))
    assert f"config/connections.yml:{line_of(text, 'username')}:" in error
    assert "T_USER_MISSING" in error


# ------------------------------------------------------------------------------- unknown keys, YAML errors


@pytest.mark.parametrize(
    ("target", "typo", "bad", "fix"),
    [
        ("pipeline", "    cursor_colum: updated_at\n", "cursor_colum", "cursor_column"),
        ("pipeline", "    validation: {required_colums: [a]}\n", "required_colums", "required_columns"),
        ("pipeline", "defaults:\n  batch_row: 10\n", "batch_row", "batch_rows"),
        ("pipeline", "tabels: {}\n", "tabels", "tables"),
        ("connections", "      hots: x\n", "hots", "host"),
    ],
)
def test_unknown_key_is_refused_with_its_line_and_a_suggestion(make_config, target, typo, bad, fix):
    if target == "pipeline":
        text = PIPELINE + typo
        root = make_config(pipeline=text)
        file = "config/pipelines/shop.yml"
    else:
        text = CONNECTIONS.replace("      username: root\n", "      username: root\n" + typo)
        root = make_config(connections=text)
        file = "config/connections.yml"
    error = load_error(root)
    assert f"{file}:{line_of(text, bad + ':')}:" in error
    assert f"unknown key '{bad}'" in error
    assert f"did you mean '{fix}'?" in error


def test_a_misspelled_required_key_is_reported_as_unknown_with_its_spelling(make_config):
    text = CONNECTIONS.replace("      username: root\n", "      usrname: root\n")
    error = load_error(make_config(connections=text))
    assert error.startswith(f"config/connections.yml:{line_of(text, 'usrname')}: unknown key 'usrname'")
    assert error.endswith("did you mean 'username'?")


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_ports_outside_1_to_65535_are_refused(make_config, port):
    text = CONNECTIONS.replace('port: "${T_PORT:-3306}"', f"port: {port}")
    error = load_error(make_config(connections=text))
    assert "invalid 'port'" in error and f"(got {port})" in error


def test_unknown_table_key_reads_as_one_line(make_config):
    root = make_config(pipeline=with_table("source_table: shop.orders\ncursor_colum: updated_at\n"))
    error = load_error(root)
    assert error.endswith("unknown key 'cursor_colum' in table 'orders' — did you mean 'cursor_column'?")


@pytest.mark.parametrize("text", ["pipeline: [unclosed\n", "pipeline:\n  name: a\n name: b\n", "a: 'x\n"])
def test_malformed_yaml_is_one_line_with_file_and_line(make_config, text):
    error = load_error(make_config(pipeline=text))
    assert error.startswith("config/pipelines/shop.yml:") and "invalid YAML" in error


def test_a_file_that_is_not_utf8_is_one_line_with_its_line(make_config):
    root = make_config()
    path = root / "pipelines" / "shop.yml"
    path.write_bytes(path.read_bytes().replace(b"pipeline:", b"# caf\xe9 (latin-1)\npipeline:", 1))
    error = load_error(root)
    line = line_of(path.read_bytes().decode("latin-1"), "caf")
    assert error == (f"config/pipelines/shop.yml:{line}: not UTF-8 text: byte 0xe9 cannot be decoded — "
                     "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)")


def test_duplicate_key_is_refused(make_config):
    text = PIPELINE + "    cursor_column: created_at\n"
    error = load_error(make_config(pipeline=text))
    first = len(text.splitlines()) - 3  # orders: source_table, cursor_column, id_columns, depends_on, dup
    assert (
        error == f"config/pipelines/shop.yml:{len(text.splitlines())}: duplicate key 'cursor_column' "
        f"(first at line {first})"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("table_type: facts", "did you mean 'fact'?"),
        ("batch_rows: 0", "greater than 0"),
        ("batch_rows: many", "valid integer"),
        ("batch_rows: true", "expected a number, not a boolean"),  # YAML true would be int 1 to pydantic
        ("unique_key: order_id", "valid list"),
        ("cdc_strategy: hybird", "did you mean 'hybrid'?"),
        ("cdc_strategy: auto", "is not one of hybrid, timestamp, id, full_sync"),
        ("validation: {max_null_percentage: {email: 120}}", "less than or equal to 100"),
    ],
)
def test_invalid_value_is_one_line_at_its_key(make_config, body, message):
    text = with_table(
        f"source_table: shop.orders\ncursor_column: updated_at\nid_columns: [order_id]\n{body}\n"
    )
    error = load_error(make_config(pipeline=text))
    key = body.split(":")[0]
    assert error.startswith(f"config/pipelines/shop.yml:{len(text.splitlines())}:")
    assert f"'{key}" in error and message in error


# ---------------------------------------------------------------------------------------- static validation


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("cdc_strategy: hybrid\nid_columns: [order_id]", "hybrid needs 'cursor_column'"),
        ("cdc_strategy: hybrid\ncursor_column: updated_at", "hybrid needs 'id_columns'"),
        ("cdc_strategy: timestamp", "timestamp needs 'cursor_column'"),
        ("cdc_strategy: timestamp\ncursor_column: updated_at", None),
        ("cdc_strategy: id", None),
        ("cdc_strategy: full_sync", None),
    ],
)
def test_each_strategy_requires_its_keys(make_config, body, error):
    text = with_table(f"source_table: shop.orders\n{body}\n")
    root = make_config(pipeline=text)
    if error is None:
        assert load_project(root).pipeline("shop").table("orders").cdc_strategy == body.split()[1]
    else:
        message = load_error(root)
        assert message.startswith(f"config/pipelines/shop.yml:{line_of(text, '  orders:')}: table 'orders'")
        assert error in message


@pytest.mark.parametrize(
    ("body", "bad", "why"),
    [
        ('target_name: "o\'rders"', "o'rders", "not a safe identifier"),
        ("depends_on: ['cust;omers']", "cust;omers", "not a safe identifier"),
        ("cursor_column: 'updated_at '", "updated_at ", "not a MySQL name"),
        ('id_columns: ["or\\tder"]', "or\\tder", "not a MySQL name"),
        ("source_table: 'shop.'", "'shop.'", "must be 'db.table'"),
        ("source_table: 'shop.`or\tder`'", "or\\tder", "not a MySQL name"),
    ],
)
def test_unsafe_identifiers_are_refused(make_config, body, bad, why):
    text = with_table(
        f"source_table: shop.orders\ncdc_strategy: full_sync\n{body}\n".replace(
            "source_table: shop.orders\n",
            "" if body.startswith("source_table") else "source_table: shop.orders\n",
        )
    )
    error = load_error(make_config(pipeline=text))
    assert why in error and bad in error


@pytest.mark.parametrize("body", ["cursor_column: 'changed-at'", "id_columns: ['order id', 'key']",
                                  "source_table: 'shop.order-lines'"])
def test_mysql_names_that_need_quoting_are_accepted(make_config, body):
    text = with_table(
        f"source_table: shop.orders\ncdc_strategy: full_sync\n{body}\n".replace(
            "source_table: shop.orders\n",
            "" if body.startswith("source_table") else "source_table: shop.orders\n",
        )
    )
    assert load_project(make_config(pipeline=text)).pipeline("shop").table("orders")


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        (PIPELINE.replace("target_schema: raw", "target_schema: 'raw schema'"), "not a safe identifier"),
        (PIPELINE.replace("  orders:", "  my-orders:"), "not a safe identifier"),
        (PIPELINE.replace("shop.orders", "orders"), "must be 'db.table'"),
        (PIPELINE.replace("shop.orders", "a.b.c"), "must be 'db.table'"),
    ],
)
def test_names_and_source_table_are_validated(make_config, pipeline, message):
    assert message in load_error(make_config(pipeline=pipeline))


@pytest.mark.parametrize(
    ("source_table", "parts"),
    [
        ("shop.orders", ("shop", "orders")),
        ("shop.`order.items`", ("shop", "order.items")),
        ("`my.shop`.`a``b.c`", ("my.shop", "a`b.c")),
        ("`shop`.orders", ("shop", "orders")),
    ],
)
def test_names_with_dots_are_written_in_backticks(make_config, source_table, parts):
    text = with_table(f"source_table: '{source_table}'\ncdc_strategy: full_sync\n")
    table = load_project(make_config(pipeline=text)).pipeline("shop").table("orders")
    assert (table.source_db, table.source_name) == parts


@pytest.mark.parametrize("source_table", ["shop.order.items", "shop.`order.items", "shop.``", "`shop.orders`"])
def test_an_unquoted_dot_in_source_table_says_how_to_quote_it(make_config, source_table):
    text = with_table(f"source_table: '{source_table}'\ncdc_strategy: full_sync\n")
    assert "must be 'db.table' (a name that contains a dot in backticks: db.`a.b`)" in load_error(
        make_config(pipeline=text))


def test_depends_on_must_name_a_table_of_the_pipeline(make_config):
    text = PIPELINE.replace("depends_on: [customers]", "depends_on: [customer]")
    error = load_error(make_config(pipeline=text))
    assert error.startswith(f"config/pipelines/shop.yml:{line_of(text, 'depends_on')}:")
    assert "unknown table 'customer'" in error and "did you mean 'customers'?" in error


def test_dependency_cycle_is_refused_and_named(make_config):
    text = PIPELINE.replace(
        "    id_columns: [customer_id]\n", "    id_columns: [customer_id]\n    depends_on: [orders]\n"
    )
    error = load_error(make_config(pipeline=text))
    assert "cycle: customers → orders → customers" in error


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("source: src", "source: scr"), "unknown source connection 'scr' — did you mean 'src'?"),
        (("target: wh", "target: hw"), "unknown target connection 'hw'"),
    ],
)
def test_pipeline_connections_must_exist(make_config, edit, message):
    text = PIPELINE.replace(*edit)
    error = load_error(make_config(pipeline=text))
    assert error.startswith(f"config/pipelines/shop.yml:{line_of(text, edit[1])}:") and message in error


# --------------------------------------------------------------------------------------------- environments


ENV = """\
connections:
  sources:
    src: {host: replica.internal}
pipelines:
  shop:
    defaults: {batch_rows: 500}
    tables:
      orders: {batch_rows: 50}
"""


def test_environment_is_deep_merged_over_connections_and_pipelines(make_config):
    project = load_project(make_config(envs={"ci": ENV}), "ci")
    src = project.source("src")
    assert (src.host, src.port, src.username) == ("replica.internal", 3306, "root")
    shop = project.pipeline("shop")
    orders = shop.table("orders")
    assert shop.defaults.batch_rows == 500 and shop.defaults.file_max_rows == 1_000_000
    assert (orders.batch_rows, orders.cursor_column, orders.depends_on) == (50, "updated_at", ["customers"])
    assert orders.where("batch_rows") == f"config/environments/ci.yml:{line_of(ENV, 'orders:')}"
    assert orders.where("cursor_column").startswith("config/pipelines/shop.yml:")


def test_environment_is_selected_by_extractor_env(make_config, monkeypatch):
    root = make_config(envs={"ci": ENV})
    monkeypatch.setenv("EXTRACTOR_ENV", "ci")
    project = load_project(root)
    assert (project.env, project.source("src").host) == ("ci", "replica.internal")


@pytest.mark.parametrize(
    ("envs", "env", "message"),
    [
        ({"ci": ENV}, "cj", "no environment 'cj'"),
        ({"ci": "pipelines:\n  shoq: {}\n"}, "ci", "unknown pipeline 'shoq' — did you mean 'shop'?"),
        ({"ci": "pipeline:\n  shop: {}\n"}, "ci", "unknown key 'pipeline'"),
        (
            {"ci": "pipelines:\n  shop:\n    tables:\n      orders: {batch_row: 5}\n"},
            "ci",
            "config/environments/ci.yml:4",
        ),
    ],
)
def test_environment_errors_name_the_environment_file(make_config, envs, env, message):
    assert message in load_error(make_config(envs=envs), env)


# ------------------------------------------------------------------------------------ config dir resolution


@pytest.mark.parametrize(
    ("cli", "env_var", "expected"),
    [
        ("from-cli", "from-env", "from-cli"),
        (None, "from-env", "from-env"),
        (None, None, "config"),
    ],
)
def test_config_dir_is_cli_then_env_var_then_dot_config(tmp_path, monkeypatch, cli, env_var, expected):
    monkeypatch.chdir(tmp_path)
    if env_var:
        monkeypatch.setenv("EXTRACTOR_CONFIG_DIR", env_var)
    assert resolve_config_dir(Path(cli) if cli else None) == tmp_path / expected


def test_missing_config_dir_says_how_to_point_at_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = load_error(None)
    assert "config directory config does not exist" in error and "--config-dir" in error


# ------------------------------------------------------------------------------------------------ ordering


@pytest.mark.parametrize(
    ("names", "levels"),
    [
        (None, [["customers", "products"], ["orders"], ["order_items"]]),
        (["order_items", "customers"], [["customers"], ["order_items"]]),
        (["order_items"], [["order_items"]]),
        (["products", "orders"], [["products", "orders"]]),
    ],
)
def test_ordered_tables_gives_dependency_levels_of_the_selection(names, levels):
    sales = load_project(SHIPPED).pipeline("sales")
    assert [[t.name for t in level] for level in sales.ordered_tables(names)] == levels


def test_unknown_table_suggests_a_close_match():
    sales = load_project(SHIPPED).pipeline("sales")
    with pytest.raises(ConfigError, match="did you mean 'orders'"):
        sales.ordered_tables(["ordres"])


# ------------------------------------------------------------------------------------------- locations, dumps


def test_table_where_points_at_the_key_line(make_config):
    orders = load_project(make_config()).pipeline("shop").table("orders")
    section = PIPELINE.split("  orders:")[0].count("\n") + 1
    assert orders.where() == f"config/pipelines/shop.yml:{section}"
    assert orders.where("depends_on") == f"config/pipelines/shop.yml:{line_of(PIPELINE, 'depends_on')}"
    assert orders.where("target_name") == orders.where()


def test_locations_stay_out_of_model_dumps(make_config):
    orders = load_project(make_config()).pipeline("shop").table("orders")
    assert "shop.yml" not in str(orders.model_dump()) and "shop.yml" not in repr(orders)


def test_relative_lake_and_duckdb_path_are_resolved_against_cwd(make_config, tmp_path):
    project = load_project(make_config())
    assert project.pipeline("shop").lake == str(tmp_path / "lake")
    assert project.target("wh").path == str(tmp_path / "wh.duckdb")


def test_models_are_frozen():
    table = TableConfig(name="t", source_table="d.t", cdc_strategy="full_sync")
    with pytest.raises(ValueError, match="frozen"):
        table.name = "u"  # type: ignore[misc]


# ------------------------------------------------------------------------------------------------- secrets


def test_password_never_appears_in_repr_dump_redacted_or_errors(make_config, monkeypatch):
    monkeypatch.setenv("T_PASSWORD", "s3cr3t-value")
    project = load_project(make_config())
    src = project.source("src")
    assert src.password.get_secret_value() == "s3cr3t-value"
    for text in (repr(project), repr(src), str(src.model_dump()), str(src.redacted()), str(project)):
        assert "s3cr3t-value" not in text
    assert src.redacted()["password"] == "***"
    assert "s3cr3t-value" in mysql.connection_uri(src)  # only for connectorx

    monkeypatch.setenv("T_PORT", "s3cr3t-value")  # a secret pasted into the wrong variable
    assert "s3cr3t-value" in load_error(make_config())  # non-secret fields show their value…
    monkeypatch.delenv("T_PORT")
    bad = CONNECTIONS.replace('password: "${T_PASSWORD:-}"', 'password: {nested: "${T_PASSWORD}"}')
    assert "s3cr3t-value" not in load_error(make_config(connections=bad))  # …secret ones never


def test_source_uri_quotes_credentials():
    src = SourceConnection(name="s", host="h", username="u@x", password="p:/@", database="d")
    assert mysql.connection_uri(src) == "mysql://u%40x:p%3A%2F%40@h:3306/d"


# ------------------------------------------------------------------------------------------------- ad hoc


def test_adhoc_pipeline_leaves_strategy_to_discovery(make_config, tmp_path):
    project = load_project(make_config())
    adhoc = adhoc_pipeline(
        project, source="src", target_schema="scratch", tables=["shop.orders", "customers"], lake="adhoc-lake"
    )
    assert (
        isinstance(adhoc, Pipeline)
        and adhoc.name == "adhoc_src"
        and adhoc.lake == str(tmp_path / "adhoc-lake")
    )
    assert {
        t.name: (t.source_table, t.cdc_strategy, t.cursor_column, t.id_columns) for t in adhoc.tables.values()
    } == {
        "orders": ("shop.orders", "auto", None, []),
        "customers": ("shop.customers", "auto", None, []),
    }
    assert adhoc.table("orders").where() == "--table shop.orders"


def test_adhoc_names_that_had_to_change_keep_apart_from_each_other(make_config):
    project = load_project(make_config())
    tables = ["shop.a-b", "shop.a_b", "shop.a b", "shop.ťàblé", "shop.`a.b`"]
    names = list(adhoc_pipeline(project, source="src", target_schema="s", tables=tables, lake="l").tables)
    assert names[1] == "a_b" and len(set(names)) == 5  # `a-b`, `a b` and `a.b` no longer land as `a_b`
    assert names[0].startswith("a_b_") and names[3].startswith("__bl__") and names[4].startswith("a_b_")
    again = list(adhoc_pipeline(project, source="src", target_schema="s", tables=tables, lake="l").tables)
    assert again == names  # stable from run to run: the watermark is found again


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "scr"}, "did you mean 'src'?"),
        ({"tables": ["a.b.c"]}, "must be 'db.table'"),
        ({"tables": ["a.orders", "b.orders"]}, "two ad-hoc tables are named 'orders'"),
        ({"target_schema": "bad schema"}, "not a safe identifier"),
    ],
)
def test_adhoc_pipeline_errors(make_config, kwargs, message):
    project = load_project(make_config())
    args = {"source": "src", "target_schema": "scratch", "tables": ["shop.orders"], "lake": "l", **kwargs}
    with pytest.raises(ConfigError, match=message):
        adhoc_pipeline(project, **args)

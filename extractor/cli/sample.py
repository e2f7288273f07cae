"""``extractor sample``: the sample `sales` database for the demo, tests and benchmarks."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

import typer

from extractor.cli.common import ConfigDirOption, EnvOption, JsonOption, emit, open_project
from extractor.config import Project

sample_app = typer.Typer(help="The sample `sales` database for the demo, tests and benchmarks.",
                         no_args_is_help=True)
SampleSourceOption = Annotated[str, typer.Option("--source", help="Source connection to create it on.")]
DatabaseOption = Annotated[str | None, typer.Option("--database", help="Database name (default: the source's).")]


def _admin_connection(project: Project, source: str, database: str | None) -> tuple[str, Any]:
    """The sample database's name and a connection to its server without a default database."""
    from extractor import mysql

    conn = project.source(source)
    return database or conn.database or "sales", mysql.connect(conn.model_copy(update={"database": None}))


@sample_app.command("create")
def sample_create(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Orders to generate (the rest scales).")] = 5000,
    source: SampleSourceOption = "sales_mysql", database: DatabaseOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """(Re)create the sample database with deterministic generated data."""
    from extractor import sample

    db, conn = _admin_connection(open_project(config_dir, env), source, database)
    try:
        started = time.monotonic()
        counts = sample.create(conn, db, sample.SampleSize.scaled(orders))
    finally:
        conn.close()
    emit({"database": db, "rows": counts, "seconds": round(time.monotonic() - started, 2)}, as_json,
          f"created {db}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


@sample_app.command("mutate")
def sample_mutate(
    seed: Annotated[int, typer.Option("--seed", help="Which round of changes.")] = 1,
    source: SampleSourceOption = "sales_mysql", database: DatabaseOption = None,
    config_dir: ConfigDirOption = None, env: EnvOption = None, as_json: JsonOption = False,
) -> None:
    """Apply a round of source changes (tier/address updates, new orders, a deleted product)."""
    from extractor import sample

    db, conn = _admin_connection(open_project(config_dir, env), source, database)
    try:
        summary = sample.mutate(conn, db, seed=seed)
    finally:
        conn.close()
    data = dataclasses.asdict(summary)
    emit(data, as_json, (
        f"changed {db}: {len(summary.customers_updated)} customers (3 in the same microsecond), "
        f"{len(summary.orders_inserted)} new orders, {len(summary.orders_updated)} updated orders, "
        f"deleted product {summary.product_deleted}"))

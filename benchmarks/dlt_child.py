"""One dlt ``sql_database`` extract in its own process (run by extract_benchmark.py; prints one JSON line).

    python benchmarks/dlt_child.py --table narrow_2000000 --backend pyarrow --out /tmp/x
    python benchmarks/dlt_child.py --table narrow_2000000 --backend connectorx --out /tmp/y --incremental updated_at

With ``--incremental COLUMN`` the resource is ``dlt.sources.incremental(COLUMN)`` appended to the bucket, and
the pipeline's state lives under ``--out``: the first run loads everything, later runs only what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="extractor_bench")
    parser.add_argument("--table", required=True)
    parser.add_argument("--backend", choices=["connectorx", "pyarrow", "pandas", "sqlalchemy"], required=True)
    parser.add_argument("--out", required=True, help="local directory: the filesystem destination's bucket")
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--incremental", metavar="COLUMN", default=None,
                        help="cursor column: dlt.sources.incremental(COLUMN), write_disposition append")
    args = parser.parse_args()

    started = time.monotonic()
    result: dict[str, object] = {"tool": f"dlt/{args.backend}", "table": args.table}
    try:
        import dlt
        from dlt.sources.sql_database import sql_table

        host, port = os.environ.get("MYSQL_HOST", "127.0.0.1"), os.environ.get("MYSQL_PORT", "3306")
        user, password = os.environ.get("MYSQL_USER", "root"), os.environ.get("MYSQL_PASSWORD", "")
        credentials = f"mysql+pymysql://{user}:{password}@{host}:{port}/{args.database}"
        # connectorx reads the whole table in one query; backend_kwargs keep its defaults.
        incremental = {"incremental": dlt.sources.incremental(args.incremental)} if args.incremental else {}
        resource = sql_table(
            credentials=credentials, table=args.table, backend=args.backend, chunk_size=args.chunk_size,
            reflection_level="full_with_precision", **incremental,
        )
        suffix = "_incremental" if args.incremental else ""
        pipeline = dlt.pipeline(
            pipeline_name=f"bench_{args.backend}_{args.table}{suffix}", pipelines_dir=os.path.join(args.out, ".dlt"),
            destination=dlt.destinations.filesystem(bucket_url=os.path.join(args.out, "bucket")),
            dataset_name="bench", progress=None,
        )
        disposition = "append" if args.incremental else "replace"
        info = pipeline.run(resource, loader_file_format="parquet", write_disposition=disposition)
        result["ok"] = not info.has_failed_jobs
        trace = pipeline.last_trace
        rows = trace.last_normalize_info.row_counts if trace and trace.last_normalize_info else {}
        result["rows"] = int(rows.get(args.table, 0))
        result["data_dir"] = os.path.join(args.out, "bucket", "bench", args.table)
    except BaseException as exc:  # noqa: BLE001 — a Rust panic is a BaseException; every failure is a result
        if isinstance(exc, KeyboardInterrupt):
            raise
        result["ok"] = False
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        result["error"] = _root_cause(exc) or text
        result["traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
    result["seconds"] = round(time.monotonic() - started, 3)
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")


def _root_cause(exc: BaseException) -> str:
    """dlt wraps source errors several times: the innermost message says what actually failed."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return f"{type(seen).__name__}: {str(seen).strip()[:300]}"


if __name__ == "__main__":
    main()

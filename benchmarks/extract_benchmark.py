"""Extract benchmark: this project's extractor against dlt's ``sql_database``, on the same MySQL table.

Every measurement runs in a fresh subprocess, so wall time includes interpreter start-up and imports and
peak RSS (``os.wait4``'s ``ru_maxrss``) belongs to that one measurement. Then the Parquet each tool wrote
is read back and compared value by value with MySQL (type fidelity). See benchmarks/README.md.

    .venv/bin/python benchmarks/extract_benchmark.py --rows 2000000 --variant both
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_tables
import fidelity

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
EXTRACTOR = [PYTHON, "-m", "extractor"]
SAFETY_LAG = 1


@dataclass
class Measurement:
    """One subprocess run."""

    variant: str
    name: str
    tool: str
    round: int = 0
    rows: int = 0
    wall: float = 0.0
    inner: float | None = None  # the tool's own timing (extractor: the table's read-and-write loop)
    peak_rss_mb: float = 0.0
    cpu: float = 0.0  # user + system CPU seconds of the process and its children (robust to a busy machine)
    ok: bool = True
    error: str | None = None
    data_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.wall if self.wall and self.ok else 0.0


def run_child(cmd: list[str], env: dict[str, str] | None = None,
              log: Path | None = None) -> tuple[float, float, int, str, float]:
    """Run ``cmd``; returns (wall s, peak RSS MB of it and its children, exit code, output, CPU s).

    On Linux a forked child starts with its parent's RSS high-water mark, so ``wait4`` on a direct child
    would report at least this (large, after fidelity checks) process's peak. GNU time, a small C
    program, is the parent of the measured process instead, when it is installed.
    """
    out = tempfile.TemporaryFile(mode="w+")
    stats = Path(tempfile.mkstemp(prefix="bench-time-")[1])
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    full = [timer, "-f", "%M %U %S", "-o", str(stats), *cmd] if timer else cmd
    started = time.monotonic()
    proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    if timer:
        fields = stats.read_text().strip().splitlines()[-1].split()
        rss, cpu = int(fields[0]) / 1024, float(fields[1]) + float(fields[2])
    stats.unlink(missing_ok=True)
    out.seek(0)
    text = out.read()
    if log is not None:
        log.write_text(text)
    return wall, rss, proc.returncode, text, cpu


# ------------------------------------------------------------------------------------------- extractor


def write_config(config_dir: Path, tables: dict[str, str], batch_rows: int) -> None:
    """A config dir with the repo's connections.yml and a ``bench`` pipeline over ``tables``."""
    (config_dir / "pipelines").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "connections.yml", config_dir / "connections.yml")
    lines = [
        "pipeline:", "  name: bench", "  source: sales_mysql", "  target: local_duckdb",
        "  target_schema: bench", '  lake: "${EXTRACTOR_LAKE}"', "defaults:", f"  batch_rows: {batch_rows}",
        f"  safety_lag_seconds: {SAFETY_LAG}", "tables:",
    ]
    for name, source_table in tables.items():
        lines += [f"  {name}:", f"    source_table: {bench_tables.DATABASE}.{source_table}",
                  "    cdc_strategy: hybrid", "    cursor_column: updated_at", "    id_columns: [id]"]
    (config_dir / "pipelines" / "bench.yml").write_text("\n".join(lines) + "\n")


def extractor_sync(variant: str, name: str, config_dir: Path, table: str | None, lake: Path, reader: str,
                   logs: Path) -> Measurement:
    """``extractor sync`` of one table of the bench pipeline (``table=None``: every table, in parallel)."""
    cmd = [*EXTRACTOR, "sync", "--pipeline", "bench", *(["--table", table] if table else []), "--reader", reader,
           "--json", "--config-dir", str(config_dir)]
    env = {"EXTRACTOR_LAKE": str(lake), "MYSQL_DATABASE": bench_tables.DATABASE}
    wall, rss, code, text, cpu = run_child(cmd, env, logs / f"{variant}-{name}.log")
    m = Measurement(variant, name, f"extractor/{reader}", wall=wall, peak_rss_mb=rss, cpu=cpu)
    try:
        tables = last_json(text, "tables")["tables"]
        m.rows, m.inner = sum(int(t["rows"]) for t in tables), max(float(t["seconds"]) for t in tables)
        m.ok = all(t["status"] == "success" for t in tables)
        m.error = next((t["error"] for t in tables if t.get("error")), None)
        t = tables[0]
        m.extra = {"files": sum(t["files"] for t in tables), "phase": t["phase"], "warnings": t["warnings"]}
    except (ValueError, KeyError, IndexError):
        m.ok, m.error = False, f"exit {code}: {text.strip()[-300:]}"
    if code != 0 and m.ok:
        m.ok, m.error = False, f"exit {code}"
    m.data_dir = str(lake / "data")
    return m


def last_json(text: str, key: str) -> dict[str, Any]:
    """The last JSON object in ``text`` (a command's output, after any log lines) that has ``key``."""
    decoder = json.JSONDecoder()
    found = None
    for i, ch in enumerate(text):
        if ch == "{" and (i == 0 or text[i - 1] == "\n"):
            try:
                obj, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            if isinstance(obj, dict) and key in obj:
                found = obj
    if found is None:
        raise ValueError(f"no JSON object with {key!r} in the output")
    return found


def dbt_story(work: Path, orders: int, repeat: int, logs: Path) -> list[Measurement]:
    """``extractor run`` (extract + ``dbt build`` on DuckDB + acknowledge) on the sample ``sales`` pipeline.

    The real dbt project: landing, staging, SCD2 dimensions, incremental facts. Round 1 is the initial
    load into an empty lake and warehouse; each later round applies ``sample mutate`` first (updates,
    inserts, a delete) and measures the incremental extract and the incremental build.
    """
    database = f"{bench_tables.DATABASE}_sales"
    env = {"SALES_DB": database, "MYSQL_DATABASE": database, "EXTRACTOR_ENV": "demo",
           "EXTRACTOR_LAKE": str(work / "lake-sales"), "DBT_DUCKDB_PATH": str(work / "warehouse-sales.duckdb")}
    created = subprocess.run([*EXTRACTOR, "sample", "create", "--orders", str(orders), "--database", database,
                              "--json"], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    if created.returncode != 0:
        raise SystemExit(f"sample create failed: {created.stderr.strip()[-300:]}")
    counts = json.loads(created.stdout)["rows"]
    print(f"  sample {database}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    found = []
    for r in range(1 + repeat):
        if r:
            subprocess.run([*EXTRACTOR, "sample", "mutate", "--seed", str(r), "--database", database, "--json"],
                           cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
            time.sleep(SAFETY_LAG + 1.5)  # the demo environment's safety lag is 1 s
        name = "extract + dbt build, initial" if r == 0 else "extract + dbt build, after sample mutate"
        cmd = [*EXTRACTOR, "run", "--pipeline", "sales", "--json"]
        wall, rss, code, text, cpu = run_child(cmd, env, logs / f"dbt-{r}.log")
        m = Measurement(f"sales ({orders:,} orders)", name, "extractor+dbt", round=r, wall=wall,
                        peak_rss_mb=rss, cpu=cpu)
        try:
            report = last_json(text, "dbt_exit_code")
            extract = report["extract"]
            m.rows = sum(int(t["rows"]) for t in extract["tables"])
            took = datetime.fromisoformat(extract["finished_at"]) - datetime.fromisoformat(extract["started_at"])
            m.extra = {"dbt_seconds": float(report["dbt_seconds"]), "extract_seconds": took.total_seconds()}
            m.ok = report["dbt_exit_code"] == 0 and report["extract"]["ok"]
        except (ValueError, KeyError) as exc:
            m.ok, m.error = False, f"exit {code}: {exc}: {text.strip()[-300:]}"
        if code != 0 and m.ok:
            m.ok, m.error = False, f"exit {code}"
        found.append(m)
    return found


# ------------------------------------------------------------------------------------------------- dlt


def dlt_extract(variant: str, table: str, backend: str, out: Path, logs: Path, *, name: str | None = None,
                incremental: str | None = None) -> Measurement:
    """One ``dlt_child.py`` run; ``incremental``: the cursor column of a ``dlt.sources.incremental`` resource
    whose state lives in ``out`` (the first run loads the table, later ones what changed since)."""
    name = name or f"dlt {backend}"
    cmd = [PYTHON, str(ROOT / "benchmarks" / "dlt_child.py"), "--table", table, "--backend", backend,
           "--out", str(out), *(["--incremental", incremental] if incremental else [])]
    wall, rss, code, text, cpu = run_child(cmd, {"RUNTIME__LOG_LEVEL": "ERROR"}, logs / f"{variant}-{name}.log")
    m = Measurement(variant, name, f"dlt/{backend}", wall=wall, peak_rss_mb=rss, cpu=cpu)
    line = next((ln for ln in text.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        m.ok, m.error = False, f"exit {code}: {text.strip()[-300:]}"
        return m
    res = json.loads(line.removeprefix("BENCH_RESULT "))
    m.ok, m.error = bool(res.get("ok")), res.get("error")
    m.rows, m.inner, m.data_dir = int(res.get("rows", 0)), res.get("seconds"), res.get("data_dir")
    return m


# --------------------------------------------------------------------------------------------- report


def machine() -> str:
    import psutil

    mem = psutil.virtual_memory().total / 2**30
    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
            f"{mem:.0f} GiB RAM, Python {platform.python_version()}")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for pkg in ("connectorx", "pyarrow", "pymysql", "dlt", "sqlalchemy", "duckdb"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            found[pkg] = "not installed"
    conn = bench_tables.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION(), @@innodb_buffer_pool_size")
            server, pool = cur.fetchone()
            found["server"] = f"{server} (InnoDB buffer pool {int(pool) / 2**20:,.0f} MB)"
    finally:
        conn.close()
    return found


@dataclass
class Summary:
    """The repeats of one measurement: medians, with the range of wall times."""

    variant: str
    name: str
    tool: str
    runs: list[Measurement]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.runs)

    @property
    def rows(self) -> int:
        return self.runs[0].rows

    @property
    def wall(self) -> float:
        return statistics.median(m.wall for m in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(m.cpu for m in self.runs)

    @property
    def peak_rss_mb(self) -> float:  # the worst run: memory is a bound, not an average
        return max(m.peak_rss_mb for m in self.runs)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.wall if self.wall and self.ok else 0.0

    @property
    def error(self) -> str | None:
        return next((m.error for m in self.runs if m.error), None)

    @property
    def inner(self) -> float | None:
        """Median of the tool's own timing (extractor: the table's read-and-write loop, without start-up)."""
        values = [m.inner for m in self.runs if m.inner is not None]
        return statistics.median(values) if values else None

    def median(self, key: str) -> float | None:
        values = [m.extra[key] for m in self.runs if key in m.extra]
        return statistics.median(values) if values else None


def summarize(ms: list[Measurement]) -> list[Summary]:
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in ms:
        groups.setdefault((m.variant, m.name), []).append(m)
    return [Summary(v, n, runs[0].tool, runs) for (v, n), runs in groups.items()]


def results_table(ms: list[Measurement]) -> str:
    lines = ["| variant | measurement | runs | rows | median wall s (range) | rows/s | peak RSS MB | client CPU s "
             "| vs dlt best | notes |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    summaries = summarize(ms)
    for variant in dict.fromkeys(s.variant for s in summaries):
        group = [s for s in summaries if s.variant == variant]
        dlt_ok = [s for s in group if s.tool.startswith("dlt/") and s.ok and "incremental" not in s.name]
        best = max(dlt_ok, key=lambda s: s.rows_per_second) if dlt_ok else None
        initial = next((s for s in group if s.name == "extractor connectorx initial"), None)
        for s in group:
            ratio = (f"{s.rows_per_second / best.rows_per_second:.2f}×"
                     if best and s.ok and s.tool.startswith(("extractor/", "dlt/")) else "—")
            if "incremental" in s.name:  # against the other tool's run on the same changed rows
                ratio = "1.00×" if s.name.startswith("dlt incremental") and s.ok else "—"
                peer_name = s.name.replace("extractor incremental", "dlt incremental")
                peer = next((p for p in group if p.name == peer_name and p.ok), None)
                if s.name.startswith("extractor") and peer is not None and s.ok and s.wall:
                    ratio = f"{peer.wall / s.wall:.2f}×"
            notes = " ".join((s.error or "").split())[:160]  # one line: errors may span many
            inner = s.inner
            if inner is not None and s.ok:
                notes = f"inner {inner:.2f} s" + (f"; {notes}" if notes else "")
            if s.name.startswith("extractor incremental") and initial and initial.wall:
                notes += f"; {s.wall / initial.wall:.1%} of the initial extract's wall time"
                if initial.inner and inner is not None and s.ok:
                    notes += f", {inner / initial.inner:.1%} of its extract time"
            pages = s.median("disk_page_reads")
            if pages is not None:
                notes += f"; {pages:,.0f} InnoDB pages read from disk"
            dbt_s = s.median("dbt_seconds")
            if dbt_s is not None:
                notes += f"; dbt build {dbt_s:.2f} s, extract {s.median('extract_seconds') or 0:.2f} s"
            walls = sorted(m.wall for m in s.runs)
            spread = f" ({walls[0]:.2f}–{walls[-1]:.2f})" if len(walls) > 1 else ""
            lines.append(f"| {s.variant} | {s.name} | {len(s.runs)} | {s.rows:,} | {s.wall:.2f}{spread} | "
                         f"{s.rows_per_second:,.0f} | {s.peak_rss_mb:.0f} | {s.cpu:.1f} | {ratio} | "
                         f"{notes.strip('; ').replace('|', '/')} |")
    return "\n".join(lines)


_FOCUS = ["id", "order_total", "discount", "ordered_at", "status", "u64", "d18_4", "d38_10", "dt6", "ts6", "d",
          "tm", "yr", "js", "bin16", "st", "f32", "vc_long"]


def fidelity_table(checks: dict[str, dict[str, Any]]) -> str:
    """One row per column of interest, one column per tool: Arrow type, and ✗ n when values differ."""
    tools = list(checks)
    names: list[str] = []
    for res in checks.values():
        for n in res.get("columns", {}):
            if n not in names:
                names.append(n)
    lines = ["| column | " + " | ".join(tools) + " |", "|---|" + "---|" * len(tools)]
    for name in names:
        cells = []
        for tool in tools:
            res = checks[tool]
            if "columns" not in res:
                cells.append("—")
                continue
            col = res["columns"].get(name)
            if col is None:
                cells.append("missing")
                continue
            mark = "✓" if col["mismatches"] == 0 else f"✗ {col['mismatches']}/{res['rows_checked']}"
            cells.append(f"`{col['type']}` {mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    errors = [f"- {tool}: {res['error']}" for tool, res in checks.items() if "error" in res]
    examples = []
    for tool, res in checks.items():
        for name, col in res.get("columns", {}).items():
            if col["example"]:
                ex = col["example"]
                examples.append(f"- {tool} `{name}` id {ex['id']}: MySQL `{ex['mysql']}` → Parquet `{ex['parquet']}`")
    return "\n".join(lines + ([""] + errors if errors else []) + ([""] + examples if examples else []))


# ----------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in the source table (default 2,000,000)")
    parser.add_argument("--variant", choices=["narrow", "wide", "both"], default="narrow")
    parser.add_argument("--skip-dlt", action="store_true", help="measure only this project's extractor")
    parser.add_argument("--skip-pymysql", action="store_true", help="skip the (slow) pure-Python reader")
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--skip-fidelity", action="store_true")
    parser.add_argument("--skip-parallel-tables", action="store_true",
                        help="with --variant both: skip syncing both tables in one run")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="extractor defaults.batch_rows")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each connectorx-path and incremental measurement; medians are reported")
    parser.add_argument("--dbt-orders", type=int, default=400_000,
                        help="orders in the sample `sales` database for extract + dbt build (0 skips it)")
    parser.add_argument("--buffer-pool-mb", type=int, default=None,
                        help="resize InnoDB's buffer pool for the run (restored afterwards), e.g. to one that "
                             "holds the tables as production servers are sized; default: leave it as it is")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the source tables")
    parser.add_argument("--keep", action="store_true", help="keep the lakes and dlt buckets (work dir printed)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file stem (default benchmarks/results/extract-<timestamp>); .md and .json")
    args = parser.parse_args()
    if args.buffer_pool_mb is None:
        return run(args)
    previous = bench_tables.set_buffer_pool(args.buffer_pool_mb * 2**20)
    print(f"InnoDB buffer pool {previous / 2**20:,.0f} MB → {args.buffer_pool_mb:,} MB for this run", flush=True)
    try:
        return run(args)
    finally:
        bench_tables.set_buffer_pool(previous)


def run(args: argparse.Namespace) -> int:
    """The measurements, the report files and the exit code (non-zero only when our own runs failed)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or ROOT / "benchmarks" / "results" / f"extract-{stamp}"
    out = out.with_suffix("") if out.suffix in (".md", ".json") else out
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="extract-bench-"))
    logs = work / "logs"
    logs.mkdir()
    variants = ["narrow", "wide"] if args.variant == "both" else [args.variant]
    print(f"work dir {work}", flush=True)
    # Bytecode, as an installed package has it (pip compiles at install; dlt's is in site-packages): an
    # editable checkout under PYTHONDONTWRITEBYTECODE=1 would recompile every module in every child.
    compileall.compile_dir(ROOT / "extractor", quiet=1)

    measurements: list[Measurement] = []
    checks: dict[str, dict[str, dict[str, Any]]] = {}

    def record(m: Measurement) -> Measurement:
        measurements.append(m)
        status = "ok" if m.ok else f"FAILED: {m.error}"
        print(f"  {m.variant:6} {m.name:28} {m.rows:>11,} rows {m.wall:8.2f} s {m.rows_per_second:>11,.0f} rows/s "
              f"{m.peak_rss_mb:6.0f} MB {m.cpu:6.1f} cpu-s  {status}", flush=True)
        return m

    for variant in variants:
        table = bench_tables.ensure(variant, args.rows, rebuild=args.rebuild)
        config_dir = work / f"config-{variant}"
        write_config(config_dir, {"t": table, "edge": "edge"}, args.batch_rows)
        ids = fidelity.sample_ids(args.rows)
        checks[variant] = {}
        bench_tables.warm(table)  # nobody pays for a cold buffer pool: every tool starts from the same state
        lake = work / f"lake-{variant}-connectorx"
        # The connectorx peers alternate (A B, B A, …) so a drift in the machine's load hits both; the
        # pure-Python paths are 10–20× slower and run once.
        peers = [("extractor", "connectorx"), ("dlt", "connectorx")]
        runs = [peer for r in range(args.repeat) for peer in (peers if r % 2 == 0 else peers[::-1])]
        runs += [("extractor", "pymysql"), ("dlt", "pyarrow")]
        for i, (tool, backend) in enumerate(runs):
            if (tool == "dlt" and args.skip_dlt) or (backend == "pymysql" and args.skip_pymysql):
                continue
            check = not args.skip_fidelity and f"{tool}/{backend}" not in checks[variant]
            if tool == "extractor":
                target = work / f"lake-{variant}-{backend}"
                shutil.rmtree(target, ignore_errors=True)
                m = extractor_sync(variant, f"extractor {backend} initial", config_dir, "t", target, backend, logs)
                if m.ok and m.rows != args.rows:
                    m.ok, m.error = False, f"extracted {m.rows:,} of {args.rows:,} rows"
                m.round = i // 2
                record(m)
                if m.ok and check:
                    checks[variant][m.tool] = fidelity.compare(table, m.data_dir, ids)
                if backend == "pymysql" and not args.keep:
                    shutil.rmtree(target, ignore_errors=True)
                continue
            out_dir = work / f"dlt-{variant}-{backend}"
            shutil.rmtree(out_dir, ignore_errors=True)
            m = dlt_extract(variant, table, backend, out_dir, logs)
            m.round = i // 2
            record(m)
            if check:
                checks[variant][m.tool] = fidelity.compare(table, m.data_dir, ids) if m.ok else {"error": m.error}
            if not args.keep:
                shutil.rmtree(out_dir, ignore_errors=True)
        if not args.skip_incremental and lake.exists():
            dlt_lake = work / f"dlt-{variant}-incremental"
            if not args.skip_dlt:  # the peer: dlt.sources.incremental on the same cursor, its state loaded once
                shutil.rmtree(dlt_lake, ignore_errors=True)
                record(dlt_extract(variant, table, "connectorx", dlt_lake, logs, incremental="updated_at",
                                   name="dlt connectorx initial, incremental resource"))
            # Two shapes of 1% change: spread evenly (every page of the table holds a changed row: the
            # worst case for the server's I/O) and clustered in the newest rows (the common OLTP shape).
            for shape, touch in (("spread", bench_tables.touch_spread), ("recent", bench_tables.touch_recent)):
                for r in range(args.repeat):
                    changed = touch(table, 0.01)
                    time.sleep(SAFETY_LAG + 1.5)
                    tools = ["extractor", "dlt"] if r % 2 == 0 else ["dlt", "extractor"]
                    for tool in tools:
                        if tool == "dlt" and args.skip_dlt:
                            continue
                        if shape == "spread":
                            # The UPDATE scanned the whole table; so does this: each tool starts from the
                            # same buffer pool, not from the pages the other one just read.
                            bench_tables.warm(table)
                        before = bench_tables.disk_page_reads()
                        name = f"{tool} incremental, 1% {shape} ({changed:,} rows)"
                        if tool == "extractor":
                            m = extractor_sync(variant, name, config_dir, "t", lake, "connectorx", logs)
                        else:
                            m = dlt_extract(variant, table, "connectorx", dlt_lake, logs, name=name,
                                            incremental="updated_at")
                        m.extra["disk_page_reads"] = bench_tables.disk_page_reads() - before
                        m.round = r
                        if m.ok and m.rows != changed:
                            m.ok, m.error = False, f"extracted {m.rows:,} rows, expected {changed:,}"
                        record(m)
            if not args.keep:
                shutil.rmtree(dlt_lake, ignore_errors=True)
        if not args.keep:
            for reader in ("connectorx", "pymysql"):
                shutil.rmtree(work / f"lake-{variant}-{reader}", ignore_errors=True)

    if args.variant == "both" and not args.skip_parallel_tables:
        # Several tables at once (defaults.parallelism 2): memory is per table in flight, not per table size.
        config_dir = work / "config-both"
        write_config(config_dir, {"narrow": f"narrow_{args.rows}", "wide": f"wide_{args.rows}"}, args.batch_rows)
        m = extractor_sync("narrow + wide", "extractor connectorx, both tables at once", config_dir, None,
                           work / "lake-both", "connectorx", logs)
        if m.ok and m.rows != 2 * args.rows:
            m.ok, m.error = False, f"extracted {m.rows:,} of {2 * args.rows:,} rows"
        record(m)
        shutil.rmtree(work / "lake-both", ignore_errors=True)

    if args.dbt_orders:
        for m in dbt_story(work, args.dbt_orders, args.repeat, logs):
            record(m)

    if not args.skip_fidelity:  # boundary values: every tool on the small edge table
        bench_tables.ensure_edge()
        edge_checks: dict[str, dict[str, Any]] = {}
        config_dir = work / "config-wide" if "wide" in variants else work / f"config-{variants[0]}"
        for reader in ("connectorx", "pymysql"):
            m = extractor_sync("edge", f"extractor {reader}", config_dir, "edge", work / f"lake-edge-{reader}",
                               reader, logs)
            edge_checks[m.tool] = fidelity.compare("edge", m.data_dir, None) if m.ok else {"error": m.error}
        if not args.skip_dlt:
            for backend in ("connectorx", "pyarrow"):
                m = dlt_extract("edge", "edge", backend, work / f"dlt-edge-{backend}", logs)
                edge_checks[m.tool] = fidelity.compare("edge", m.data_dir, None) if m.ok else {"error": m.error}
        checks["edge"] = edge_checks

    header = [f"# Extract benchmark {stamp}", "", f"Machine: {machine()}", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()), "",
              f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}` — {args.rows:,} rows, "
              f"batch_rows {args.batch_rows:,}, {args.repeat} run(s) of each connectorx-path measurement "
              "(medians; peak RSS is the worst run)", ""]
    body = ["## Throughput and memory", "", results_table(measurements), ""]
    for name, res in checks.items():
        if res:
            body += [f"## Type fidelity: {name}", "", fidelity_table(res), ""]
    text = "\n".join(header + body)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({
        "machine": machine(), "rows": args.rows, "args": {k: str(v) for k, v in vars(args).items()},
        "summary": [{"variant": x.variant, "name": x.name, "tool": x.tool, "runs": len(x.runs), "ok": x.ok,
                     "rows": x.rows, "median_wall": x.wall, "rows_per_second": x.rows_per_second,
                     "peak_rss_mb": x.peak_rss_mb, "median_cpu": x.cpu} for x in summarize(measurements)],
        "measurements": [asdict(m) | {"rows_per_second": m.rows_per_second} for m in measurements],
        "fidelity": checks}, indent=2, default=str))
    print("\n" + text)
    print(f"\nwritten {out.with_suffix('.md')} and .json")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    # A peer failing on a table is a result, not a benchmark failure; our own measurements must succeed.
    return 0 if all(m.ok for m in measurements if m.tool.startswith("extractor")) else 1


if __name__ == "__main__":
    sys.exit(main())

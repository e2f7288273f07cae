"""Scratch directories of file writers: what a killed run left is removed, a live writer's never."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa

from extractor import scratch
from extractor.lake import LocalStorage, TableLayout
from extractor.writer import FileWriter

LAYOUT = TableLayout("shop", "shopdb", "sales", "orders")
SCHEMA = pa.schema([pa.field("id", pa.int64())])

_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    from extractor.lake import LocalStorage, TableLayout
    from extractor.writer import FileWriter
    writer = FileWriter(LocalStorage(sys.argv[1]), TableLayout("shop", "shopdb", "sales", "orders"), "run-a",
                        pa.schema([pa.field("id", pa.int64())]))
    writer.write(pa.table({"id": [1, 2, 3]}), checkpoint={"phase": "full", "position": None})
    print(writer._tmpdir, flush=True)
    time.sleep(120)
""")


def _writer_killed_mid_file(lake: Path) -> Path:
    """A writer process with an open, unpublished file, then SIGKILLed (nothing of it can clean up)."""
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(lake)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    left = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert left.is_dir() and any(left.iterdir())  # the half-written file is still there
    return left


def test_the_next_writer_removes_what_a_sigkilled_run_left_in_scratch_at_once(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    left = _writer_killed_mid_file(lake)
    assert left.parent == lake / ".tmp-scratch"
    live = FileWriter(LocalStorage(lake), LAYOUT, "run-b", SCHEMA)  # a live writer of this process
    try:
        live.write(pa.table({"id": [1]}), checkpoint={"phase": "full", "position": None})
        again = FileWriter(LocalStorage(lake), LAYOUT, "run-c", SCHEMA)  # sweeps the scratch directory
        again.close()
        assert not left.exists()
        assert Path(live._tmpdir).is_dir() and any(Path(live._tmpdir).iterdir())
    finally:
        live.close()
    assert [p.name for p in (lake / ".tmp-scratch").iterdir()] == []


def test_a_reused_pid_does_not_keep_a_dead_writers_directory_and_other_hosts_are_left_to_the_retention() -> None:
    me = os.getpid()
    host = scratch._host()
    started = scratch.process_start(me)
    assert started is not None
    assert scratch.owner_alive(f"extractor-writer-{host}_{me}_{started}_abc") is True
    assert scratch.owner_alive(f"extractor-writer-{host}_{me}_{started + 1}_abc") is False  # pid reused
    assert scratch.owner_alive(f"extractor-writer-{host}_999999999_1_abc") is False  # no such process
    assert scratch.owner_alive(f"extractor-writer-another-host_{me}_{started}_abc") is None
    assert scratch.owner_alive("extractor-writer-abc123") is None  # written by an older version


def test_s3_lakes_stage_in_a_private_swept_directory_of_the_temp_dir(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    base = Path(scratch.temp_scratch_dir())
    assert base == tmp_path / f"extractor-scratch-{os.getuid()}" and (base.stat().st_mode & 0o777) == 0o700
    dead = base / f"extractor-writer-{scratch._host()}_999999999_1_xyz"
    dead.mkdir()
    (dead / "f.parquet").write_bytes(b"half")
    scratch.temp_scratch_dir()
    assert not dead.exists()

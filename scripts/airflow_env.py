#!/usr/bin/env python3
"""Create (once) the environment the Airflow DAG is tested in: ``.venv-airflow`` with apache-airflow only.

Airflow pins hundreds of packages; the project's environment must never be constrained by them, so the DAG
runs the extractor as a command from the project's own environment (``EXTRACTOR_BIN``) and this environment
holds Airflow alone. Reused while its stamp names the same Airflow version; CI caches the directory keyed
on this file (see docs/operations.md).

    python scripts/airflow_env.py [--venv PATH]     # prints the environment's python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

AIRFLOW_VERSION = "3.3.2"
ROOT = Path(__file__).resolve().parents[1]


def ensure(venv: Path) -> Path:
    """The python of an environment with apache-airflow==AIRFLOW_VERSION, created if missing or stale."""
    python = venv / "bin" / "python"
    stamp = venv / ".airflow-version"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == AIRFLOW_VERSION:
        return python
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}"]
    done = subprocess.run(install, capture_output=True, text=True, check=False)
    if done.returncode:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"cannot install apache-airflow {AIRFLOW_VERSION} into {venv}:\n{tail}\n"
                         f"run: {' '.join(install)}")
    stamp.write_text(AIRFLOW_VERSION + "\n")
    print(f"created {venv} with apache-airflow {AIRFLOW_VERSION} in {time.monotonic() - started:.0f} s",
          file=sys.stderr)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-airflow")
    print(ensure(parser.parse_args().venv.resolve()))


if __name__ == "__main__":
    main()

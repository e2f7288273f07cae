"""Run the test suite; fail loudly when pytest collects nothing (its exit code 5)."""

import subprocess
import sys

rc = subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]])
if rc == 5:
    print("run_tests: pytest collected no tests — failing on purpose", file=sys.stderr)
    sys.exit(1)
sys.exit(rc)

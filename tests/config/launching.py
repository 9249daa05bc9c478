"""Running a launch/ script in a subprocess and seeing how far it got before it exited."""

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "deepspeed", "transformers", "webdataset", "decord")

# Runs a launch script in-process, then reports its exit code and the heavy modules it imported.
PROBE = f"""
import runpy, sys
script = sys.argv[1]
sys.argv = [script, *sys.argv[2:]]
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exit_:
    heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
    print("EXIT", exit_.code, "HEAVY", heavy)
"""


def launch(script: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, f"launch/{script}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, time.perf_counter() - started

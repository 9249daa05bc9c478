import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs the real tool, then reports which heavy modules it imported before failing.
PROBE = """
import runpy, sys
sys.argv = ["print_config.py", *sys.argv[1:]]
try:
    runpy.run_path("tools/print_config.py", run_name="__main__")
except SystemExit as exit_:
    heavy = sorted(m for m in ("torch", "deepspeed", "transformers", "decord") if m in sys.modules)
    print("EXIT", exit_.code, "HEAVY", heavy)
"""


def test_typo_fails_fast_with_key_path(tmp_path: Path) -> None:
    recipe = tmp_path / "pretrain" / "typo.yaml"
    recipe.parent.mkdir()
    recipe.write_text((REPO / "pretrain/demo.yaml").read_text().replace("seed:", "sed:"))
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "--config", str(recipe)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert f"{recipe}: run.sed: unknown key for RunConfig; did you mean 'seed'?" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    # Validation happens before any heavy import: that is what keeps the failure fast.
    assert "EXIT 2 HEAVY []" in proc.stdout
    assert elapsed < 5.0, f"config error took {elapsed:.1f}s"


def test_print_config_writes_resolved(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "tools/print_config.py",
            "--config",
            "pretrain/demo.yaml",
            "--set",
            "run.seed=5",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "seed: 5" in proc.stdout
    assert "seed: 5" in (tmp_path / "config.yaml").read_text()

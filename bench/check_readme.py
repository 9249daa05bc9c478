"""Run the README's commands as written, on the demo data: the walkthrough and the Python example.

After `make demo` (which the README's quickstart runs), from the repository root:

    python bench/check_readme.py

Extracts every fenced ```bash block under "Your own data, end to end" and every ```python block,
runs each command (continuation lines joined, comments dropped) from the repository root with the
virtualenv's python, and stops at the first failure, naming the command. Writes nothing but the
commands' own outputs (runs/mine, shards/mine, pretrain/mine.yaml, which it removes first), and
removes the recipe pretrain/mine.yaml again at the end: in pretrain/ it would be taken for one of
the shipped recipes (tests/config checks every one).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Your own data, end to end"
RECIPE = "pretrain/mine.yaml"
OUTPUTS = ("runs/mine", "shards/mine", RECIPE)


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comment lines dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def run(cmd: str) -> None:
    # The README says `python`: this virtualenv's python is the one it means.
    cmd = re.sub(r"^python ", f"{sys.executable} ", cmd)
    started = time.perf_counter()
    proc = subprocess.run(cmd, shell=True, cwd=REPO, capture_output=True, text=True)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-1500:]
        raise SystemExit(
            f"check_readme.py: failed ({proc.returncode}) after {took:.0f} s: {cmd}\n{tail}"
        )
    print(f"ok  {took:6.1f} s  {cmd[:110]}")


def main() -> int:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    if not (REPO / "runs/demo/pretrain/export/model.safetensors").is_file():
        raise SystemExit("check_readme.py: run `make demo` first (the commands use its data)")
    for path in OUTPUTS:
        target = REPO / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    try:
        run_readme(readme)
    finally:
        (REPO / RECIPE).unlink(missing_ok=True)
    print(f"every README command above ran as written ({RECIPE} removed again)")
    return 0


def run_readme(readme: str) -> None:
    walkthrough = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    for block in blocks(walkthrough, "bash"):
        for cmd in commands(block):
            run(cmd)
    for block in blocks(readme, "python"):
        script = REPO / "runs" / "mine" / "readme_example.py"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(block, encoding="utf-8")
        run(f"python {script}")


if __name__ == "__main__":
    sys.exit(main())

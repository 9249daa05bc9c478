"""The SLURM scripts, run by bash with stand-ins for scontrol, sbatch, srun and deepspeed that
record what they were asked to do: what each rank would be started with, without a cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SLURM = Path(__file__).resolve().parents[2] / "launch" / "slurm"

# Each stand-in appends its arguments and the environment the ranks would see to calls.log.
_RECORDER = """#!/usr/bin/env bash
{
  echo "$(basename "$0") $*"
  for v in RANK WORLD_SIZE LOCAL_RANK OMP_NUM_THREADS TOKENIZERS_PARALLELISM \\
      MASTER_ADDR MASTER_PORT DS_ENV_FILE ACTIVATED; do
    echo "  $v=${!v-}"
  done
} >> "$CALLS"
"""
# srun on one task: drop its options, run the command as task 3 of 16 (local 3).
_SRUN = """#!/usr/bin/env bash
echo "srun $*" | head -n 1 >> "$CALLS"
while [[ "$1" == --* ]]; do shift; done
SLURM_PROCID=3 SLURM_NTASKS=16 SLURM_LOCALID=3 exec "$@"
"""
_SCONTROL = '#!/usr/bin/env bash\nprintf "node-a\\nnode-b\\n"\n'


@pytest.fixture
def cluster(tmp_path: Path) -> dict[str, str]:
    if shutil.which("bash") is None:
        pytest.fail("bash is required to run the SLURM scripts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "deepspeed", "python"):
        (bin_dir / name).write_text(_RECORDER)
    (bin_dir / "srun").write_text(_SRUN)
    (bin_dir / "scontrol").write_text(_SCONTROL)
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    activate = tmp_path / "activate"
    activate.write_text("export ACTIVATED=yes\n")
    (tmp_path / "launch").symlink_to(SLURM.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMP_", "MASTER_"))}
    env.pop("TOKENIZERS_PARALLELISM", None)
    env |= {
        "PATH": f"{bin_dir}:{env['PATH']}",
        "CALLS": str(tmp_path / "calls.log"),
        "AVT_ACTIVATE": str(activate),
        "SLURM_SUBMIT_DIR": str(tmp_path),
        "SLURM_JOB_ID": "123457",
        "SLURM_JOB_NODELIST": "node-[a-b]",
        "SLURM_CPUS_ON_NODE": "64",
    }
    return env


def _run(script: str, env: dict[str, str], cwd: str, *args: str) -> str:
    subprocess.run(["bash", str(SLURM / script), *args], env=env, cwd=cwd, check=True)
    return Path(env["CALLS"]).read_text()


def test_deepspeed_launcher_job_reads_typed_gpu_counts_and_carries_the_environment(
    cluster: dict[str, str],
) -> None:
    cluster["SLURM_GPUS_PER_NODE"] = "a100:8"
    calls = _run("pretrain.sbatch", cluster, cluster["SLURM_SUBMIT_DIR"], "--config", "x.yaml")
    root = Path(cluster["SLURM_SUBMIT_DIR"])
    hostfile = root / "logs" / "hostfile-123457"
    assert hostfile.read_text() == "node-a slots=8\nnode-b slots=8\n"
    # 64 CPUs shared by 8 ranks; a port from the job id, not everyone's 29500.
    assert "OMP_NUM_THREADS=8" in calls and "MASTER_PORT=23457" in calls
    assert "MASTER_ADDR=node-a" in calls and "ACTIVATED=yes" in calls
    assert "--master_port 23457 launch/pretrain.py --config x.yaml" in calls
    # The other nodes are reached over ssh: the launcher exports DS_ENV_FILE's lines there.
    ds_env = Path(calls.split("DS_ENV_FILE=")[1].split()[0]).read_text()
    assert "OMP_NUM_THREADS=8" in ds_env and "TOKENIZERS_PARALLELISM=false" in ds_env
    assert f"PATH={cluster['PATH']}\n" in ds_env


def test_srun_job_gives_each_task_its_cpus_and_a_job_specific_port(
    cluster: dict[str, str],
) -> None:
    cluster |= {"SLURM_GPUS_PER_NODE": "8", "SLURM_CPUS_PER_TASK": "6", "MASTER_PORT": "31000"}
    calls = _run("pretrain_srun.sbatch", cluster, cluster["SLURM_SUBMIT_DIR"], "--config", "y")
    assert calls.startswith("srun --kill-on-bad-exit=1 --export=ALL bash -c")
    assert "python launch/pretrain.py --config y" in calls
    assert "RANK=3\n  WORLD_SIZE=16\n  LOCAL_RANK=3\n" in calls
    assert "OMP_NUM_THREADS=6" in calls and "MASTER_PORT=31000" in calls
    assert "TOKENIZERS_PARALLELISM=false" in calls and "ACTIVATED=yes" in calls


def test_submit_creates_the_log_folder_before_sbatch_opens_it(cluster: dict[str, str]) -> None:
    root = Path(cluster["SLURM_SUBMIT_DIR"])
    calls = _run("submit.sh", cluster, str(root), "--nodes=2", "launch/slurm/pretrain.sbatch")
    assert (root / "logs").is_dir()
    assert calls.startswith("sbatch --nodes=2 launch/slurm/pretrain.sbatch")


def test_shard_array_tasks_run_single_threaded_workers(cluster: dict[str, str]) -> None:
    cluster["SLURM_CPUS_PER_TASK"] = "32"
    root = cluster["SLURM_SUBMIT_DIR"]
    calls = _run("make_shards.sbatch", cluster, root, "--manifest", "m.csv")
    assert calls.startswith("python tools/make_shards.py --workers 32 --manifest m.csv\n")
    assert "OMP_NUM_THREADS=1\n" in calls and "ACTIVATED=yes" in calls

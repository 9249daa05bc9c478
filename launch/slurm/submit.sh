#!/usr/bin/env bash
# sbatch with the log folder in place: SLURM opens `--output=logs/...` before the job script runs,
# so a missing logs/ would lose the job's output. Usage is sbatch's own, e.g.
#   launch/slurm/submit.sh --nodes=4 launch/slurm/pretrain.sbatch --config pretrain/base.yaml ...
set -euo pipefail
mkdir -p logs
exec sbatch "$@"

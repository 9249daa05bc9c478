# Sourced by the sbatch scripts on the first node (and, through srun, on every node): the
# environment every rank needs. Override any of these by exporting them before `sbatch`.
# AVT_ACTIVATE: the script that activates this project's Python environment on a node (a venv's
# bin/activate, or a conda/module setup script); empty to use whatever is on PATH already.
AVT_ACTIVATE=${AVT_ACTIVATE-${SLURM_SUBMIT_DIR}/.venv/bin/activate}
if [[ -n "${AVT_ACTIVATE}" ]]; then
    # shellcheck disable=SC1090
    source "${AVT_ACTIVATE}"
fi
# SLURM_GPUS_PER_NODE may be typed ("a100:8"): the count is after the last colon.
GPUS_PER_NODE=${GPUS_PER_NODE:-${SLURM_GPUS_PER_NODE:-8}}
GPUS_PER_NODE=${GPUS_PER_NODE##*:}
# One rank per GPU shares the node's CPUs: without a cap every rank's torch and DataLoader workers
# start one thread per core and the node thrashes.
NODE_CPUS=${SLURM_CPUS_ON_NODE:-$(nproc)}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( NODE_CPUS / GPUS_PER_NODE > 0 ? NODE_CPUS / GPUS_PER_NODE : 1 ))}
# The caption tokenizer is used inside forked DataLoader workers: its own thread pool would
# deadlock or warn there.
export TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM:-false}
export MASTER_ADDR=${MASTER_ADDR:-$(scontrol show hostnames "${SLURM_JOB_NODELIST}" | head -n 1)}
# A port derived from the job id: two jobs sharing a first node do not collide on 29500.
export MASTER_PORT=${MASTER_PORT:-$(( 20000 + SLURM_JOB_ID % 20000 ))}

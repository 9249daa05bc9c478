#!/usr/bin/env bash
# The first-GPU check from a fresh clone on one GPU machine (a few minutes): set up, then
# bench/gpu_check.py (data, base-recipe throughput and MFU in bf16, fp16 under ZeRO-0/2, kill and
# resume). Figures: bench/results/gpu_check.json; every command's output: its gpu_check.log.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
make setup
exec .venv/bin/python bench/gpu_check.py "$@"

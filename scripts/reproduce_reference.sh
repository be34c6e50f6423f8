#!/usr/bin/env bash
# Reproduce the reference rows (paper Table 3 on synthetic data) from a fresh clone: see
# scripts/reproduce_reference.py (the driver) and docs/reproduction.md (what it does, what ran, the table).
# Default: S4 and MS3, TPAVI + AVSegFormer (ResNet-50 small), 3 seeds each, every variant, the feature
# shortcut, reference entries + leaderboard + ci (~90 min on 2 cores). Extra arguments go to the driver,
# e.g. `--ms3-seeds 0` (saves ~25 min) or `--subsets s4 --seeds 0 --models tpavi` for a reduced run.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PY:-python}
exec nice -n "${NICE:-10}" "$PY" scripts/reproduce_reference.py --work "${WORK:-/tmp/avsb-reproduction}" --shortcut --entries "$@"

#!/usr/bin/env bash
# The main job on the embedded synthetic AVSBench dataset: each stage is one avsb-robust command.
set -euo pipefail
BIN=${BIN:-.venv/bin}
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
echo "== 1. index the embedded synthetic dataset (generated once into the cache)"
"$BIN/avsb-robust" index --subset s4 --split test

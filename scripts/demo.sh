#!/usr/bin/env bash
# The main job on the embedded synthetic AVSBench dataset (no download):
#   build -> audit -> predict (reference model) -> score -> sanity baselines -> leaderboard.
# Each stage is one avsb-robust command; everything lands under $OUT. Safe to re-run.
set -euo pipefail
BIN=${BIN:-.venv/bin}
OUT=${OUT:-out/demo}
REF=${REF:-reference/avsegformer-r50-small-s4-cgsl}
A="$BIN/avsb-robust"
mkdir -p "$OUT/results"

echo "== 1/6 build: positive, silence, noise, offscreen, fused audio + VGGish log-mel for S4 test"
"$A" build --subset s4 --split test --out "$OUT/build/s4" --workers 2
"$A" build --verify "$OUT/build/s4"

echo "== 2/6 leak audit: can a trivial classifier tell the conditions apart from feature statistics?"
"$A" audit "$OUT/build/s4"

echo "== 3/6 predict with the reference model $REF (plain and with the CGSL gate)"
"$A" predict --checkpoint "$REF" --subset s4 --build "$OUT/build/s4" --out "$OUT/pred/reference" --overwrite --no-progress
"$A" predict --checkpoint "$REF" --subset s4 --build "$OUT/build/s4" --gate 0.45 --out "$OUT/pred/reference-gate" \
    --overwrite --no-progress

echo "== 4/6 score (canonical protocol; tables in percent, JSON in fractions)"
"$A" score "$OUT/pred/reference" --subset s4 --json "$OUT/results/reference.json"
"$A" score "$OUT/pred/reference-gate" --subset s4 --json "$OUT/results/reference-gate.json"
echo "-- side by side, with 95% bootstrap intervals over videos (stored in the JSON)"
"$A" report "$OUT/results/reference.json" "$OUT/results/reference-gate.json" --names reference,reference+gate \
    --intervals --format markdown
echo "-- does the gate change anything beyond noise? paired bootstrap over the same videos"
"$A" compare "$OUT/results/reference.json" "$OUT/results/reference-gate.json" --names reference,gate
echo "-- figures: per-condition bars, positive mIoU vs negative FPR, F curves, CGSL similarities (Fig. 4)"
R=("$OUT/results/reference.json" "$OUT/results/reference-gate.json")
"$A" plot "${R[@]}" --names reference,reference+gate --kind bars --out "$OUT/figs/bars.png"
"$A" plot "${R[@]}" --names reference,reference+gate --kind scatter --out "$OUT/figs/scatter.svg"
"$A" plot "${R[@]}" --names reference,reference+gate --kind curves --out "$OUT/figs/curves.pdf"
"$A" plot --kind similarity --similarity "$OUT/pred/reference" --names "$REF" --out "$OUT/figs/similarity.png"

echo "== 5/6 sanity baselines: visual-prior oracle, audio-visual oracle, empty"
rm -rf "$OUT/baselines"
"$A" baselines "$OUT/baselines" --subset s4

echo "== 6/6 leaderboard from submissions/ and the paper's Table 1"
"$A" leaderboard --submissions submissions --out "$OUT/leaderboard"
"$A" table1 --add "$OUT/results/reference-gate.json" --name "reference+gate"
echo "-- pack the gated prediction as a leaderboard entry (re-scored before it is written)"
"$A" submit "$OUT/results/reference-gate.json" "$OUT/pred/reference-gate" --out "$OUT/entry/demo-reference-gate" \
    --model "AVSegFormer-R50 small (demo)" --variant "+CGSL (ours) gate 0.45" --backbone resnet50 --overwrite
echo "done: results in $OUT/results, leaderboard in $OUT/leaderboard/index.html"

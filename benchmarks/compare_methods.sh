#!/usr/bin/env bash
# The committed method comparisons: every method at equal budget over >= 10 seeds, with mean
# ranks and paired Wilcoxon tests against Hyperband (Holm-corrected), on four tasks:
#   the multi-fidelity test functions (20 seeds), the SVC task (digits), the Delhi temperature
#   series and NVDA (LSTMs, R=9, 10 seeds each).
# Needs the peers extra (pip install -e ".[dev]" has it). Results: benchmarks/results/compare_*/
# (CSV, compare_summary.md, PNG) and testfunction_compare.{json,md}. About 1.5-2 hours on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results
METHODS=hyperband,random,bo,ga,bohb,optuna-tpe-hb,optuna-random,dehb
SEEDS=${SEEDS:-10}
export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}
uptime
python benchmarks/testfunction_compare.py --seeds 20 --peers
hbjax compare --task svc --methods "$METHODS" --seeds "$SEEDS" --out "$OUT/compare_svc" --quiet
# a budget of two Hyperband iterations (138 config-epochs at R=9); 2 and 1 most recent folds
hbjax compare --task lstm --data delhi --folds 2 --methods "$METHODS" --seeds "$SEEDS" \
    --out "$OUT/compare_delhi_lstm" --quiet
hbjax compare --task lstm --data nvda --folds 1 --methods "$METHODS" --seeds "$SEEDS" \
    --out "$OUT/compare_nvda_lstm" --quiet
uptime

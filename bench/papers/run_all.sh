#!/bin/sh
# run_all.sh [--quick] — every paper's experiment (docs/PAPERS.md), one after the other: EGN
# supervised and RL, LRSFN, SOFIM, SGN, arTuRO. Installs what they need (Debian's python3-optuna,
# python3-matplotlib, python3-sklearn) when missing, builds curvo when build/curvo is absent, and
# writes every table and plot under bench/results/papers/PAPER (PAPER-quick with --quick).
#   bash bench/papers/run_all.sh --quick   under 15 minutes on a 2-core machine
#   bash bench/papers/run_all.sh           the full runs (each script's header says how long)
set -eu
cd "$(dirname "$0")/../.."
for m in optuna matplotlib sklearn numpy; do
    if ! /usr/bin/python3 -c "import $m" 2>/dev/null; then
        apt-get install -y -qq python3-optuna python3-matplotlib python3-sklearn python3-numpy >/dev/null
        break
    fi
done
if [ ! -x build/curvo ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j
fi
export PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}"
start=$(date +%s)
for script in egn_supervised egn_rl lrsfn sofim sgn arturo; do
    echo "== $script $*"
    t0=$(date +%s)
    /usr/bin/python3 "bench/papers/$script.py" "$@"
    echo "== $script done in $(( $(date +%s) - t0 )) s"
done
echo "== all done in $(( $(date +%s) - start )) s"

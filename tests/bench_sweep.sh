#!/bin/sh
# bench_sweep.sh — bench/sweep_all.sh's bookkeeping with a stand-in for `curvo bench` whose final
# loss is known in advance: every cell of the grid is run, each method's pick is the cell of lowest
# loss, a pick on the edge of the grid extends it outward until a cell is worse (and at most EXTEND
# cells), a failed cell is reported and ends the extension, and the table says all of it.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/curvo-bench-sweep-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; sed 's/^/  /' "$T/table" "$T/err" 2>/dev/null; exit 1; }

# The stand-in: loss = (log10(value / best))^2 + 0.1 around a best value per method; SGN fails
# above rho = 0.002; test accuracy 0.8 everywhere.
cat > "$T/curvo" <<'STUB'
#!/bin/sh
out="" opt="" val=""
while [ $# -gt 0 ]; do
    case $1 in --out) out=$2; shift ;; --opts) opt=$2; shift ;; --opt-param) val=${2#*=}; shift ;; esac
    shift
done
mkdir -p "$out"
echo "optimizer,runs,failed,final_loss_mean,final_loss_std,test_metric_mean" > "$out/summary.csv"
case $opt in sgd) b=0.3 ;; adam) b=0.001 ;; egn) b=0.01 ;; sgn) b=1 ;; lrsfn) b=0.003 ;; sofim) b=0.5 ;; *) b=0.05 ;; esac
if [ "$opt" = sgn ] && awk -v v="$val" 'BEGIN { exit !(v > 0.002) }'; then exit 1; fi
echo "$opt,1,0,$(awk -v v="$val" -v b="$b" 'BEGIN { d = log(v / b) / log(10); print d * d + 0.1 }'),0,0.8" >> "$out/summary.csv"
STUB
chmod +x "$T/curvo"

CURVO="$T/curvo" OUT="$T/o" RESULT="$T/table" sh "$ROOT/bench/sweep_all.sh" > /dev/null 2> "$T/err" ||
    fail "exit $?"
row() { grep "^| $1 |" "$T/table"; }
# Interior picks: no extension.
row adam | grep -q '| \*\*0.100 / 80.0\*\* | 0.328 / 80.0 | 1.100 / 80.0 | — |$' || fail "adam: pick x1, no extension"
row lrsfn | grep -q '| \*\*0.100 / 80.0\*\* | 0.373 / 80.0 | — |$' || fail "lrsfn: pick x3"
# sgd: best lr 0.3 = x30, beyond the grid; x100 is worse, so the extension stops there.
row sgd | grep -q '\*\*lr = 0.3: 0.100 / 80.0\*\*; lr = 1: 0.373 / 80.0 |$' || fail "sgd: extended to x30 and x100"
# egn: best lambda 0.01 = x0.01, two cells below the grid, and x0.003 (the third) is worse.
row egn | grep -q 'lambda = 0.003: 0.373 / 80.0; \*\*lambda = 0.01: 0.100 / 80.0\*\*; lambda = 0.03: 0.328 / 80.0 |$' ||
    fail "egn: extended downward three cells"
[ -d "$T/o/egn-x0.003" ] && [ ! -d "$T/o/egn-x0.001" ] || fail "egn: at most EXTEND=3 extra cells"
# sgn: the first cell beyond the grid fails: reported, and the pick stays at x10.
row sgn | grep -q '| \*\*9.100 / 80.0\*\* | rho = 0.003: failed |$' || fail "sgn: failed extension cell"
grep -q "some runs of sgn at x30 failed" "$T/err" || fail "sgn: the failure is reported on stderr"
echo "bench_sweep: ok"

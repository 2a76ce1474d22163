#!/bin/sh
# cli_plot.sh CURVO CASE — `curvo plot` on small synthetic benchmark logs: two curvo optimizers with two
# seeds each and a PyTorch run give a PNG and an SVG with the legend and axis labels; a regression
# log plots RMSE; each bad input (missing file, malformed line, no run line, no eval lines, mixed
# metrics, bad options) exits non-zero with one line on stderr, writes no file and keeps an earlier
# figure; ten lines with long labels keep their whole legend on the page (nothing drawn in the PNG's
# outermost pixel columns). Each CASE is its own CTest test (see tests/CMakeLists.txt).
set -u
CURVO=$1
CASE=$2
T=$(mktemp -d /tmp/curvo-cli-plot-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL $CASE: $*"; sed 's/^/  /' "$T/stdout" "$T/stderr" 2>/dev/null; exit 1; }

# log FILE FRAMEWORK OPTIMIZER SEED RATE [METRIC]: a run line, then eval/epoch lines over 2 epochs
# (steps and a checkpoint line in between, which the plot skips).
log() {
    f=$1; fw=$2; opt=$3; seed=$4; rate=$5; metric=${6:-test_accuracy}
    printf '{"event":"run","framework":"%s","optimizer":"%s","model":"mlp","dataset":"fashion-mnist","seed":%d,"batch_size":128,"threads":1,"params":203530}\n' \
        "$fw" "$opt" "$seed" > "$f"
    i=1
    while [ $i -le 8 ]; do
        ev="eval"; [ $((i % 4)) -eq 0 ] && ev="epoch"
        awk -v i=$i -v r="$rate" -v s="$seed" -v ev=$ev -v m="$metric" 'BEGIN {
            e = i / 4; loss = 2.3 * exp(-r * e) + 0.3 + 0.01 * s; acc = 0.88 - 0.78 * exp(-1.5 * r * e)
            if (m == "test_rmse") acc = sqrt(loss)
            printf "{\"event\":\"step\",\"epoch\":%d,\"step\":%d,\"loss\":%.6f}\n", int(e) + 1, i * 100 - 50, loss
            printf "{\"event\":\"%s\",\"epoch\":%d,\"step\":%d,\"epochs_done\":%.4f,\"loss\":%.6f,\"%s\":%.5f,\"test_loss\":%.5f,\"train_seconds\":%.3f,\"seconds\":%.3f,\"rejected_steps\":0}\n",
                ev, int(e + 0.999), i * 100, e, loss, m, acc, loss, e * (3 + r), e * (3.5 + r)
        }' >> "$f"
        i=$((i + 1))
    done
    [ "$fw" = curvo ] && printf '{"event":"checkpoint","epoch":2,"step":800,"path":"x.ckpt","seconds":9}\n' >> "$f"
}

good_logs() {
    log "$T/adam-1.jsonl" curvo adam 1 3
    log "$T/adam-2.jsonl" curvo adam 2 3
    log "$T/egn-1.jsonl" curvo egn 1 6
    log "$T/egn-2.jsonl" curvo egn 2 6
    log "$T/torch-adam-1.jsonl" pytorch adam 1 3
}

run() { "$CURVO" plot "$@" > "$T/stdout" 2> "$T/stderr"; }

no_temp_files() { for f in "$T"/*tmp*; do [ -e "$f" ] && return 1; done; return 0; }

# expect EXPECTED_EXIT SUBSTRING ARGS...: a failure with one clear line and no output
expect() {
    want_exit=$1; want=$2; shift 2
    printf 'old figure\n' > "$T/prev.png"
    printf 'old figure\n' > "$T/prev.svg"
    run --out "$T/fig" "$@"
    code=$?
    [ $code -eq "$want_exit" ] || fail "exit code $code, expected $want_exit"
    grep -q -- "$want" "$T/stderr" || fail "stderr lacks '$want'"
    [ "$(wc -l < "$T/stderr")" -eq 1 ] || fail "stderr is not one line"
    grep -qi 'PLPLOT\|sanitizer\|segmentation' "$T/stderr" && fail "noise on stderr"
    [ -e "$T/fig.png" ] || [ -e "$T/fig.svg" ] && fail "an output file was written"
    no_temp_files || fail "a temporary file was left behind"
    # the same error with --out naming an earlier figure keeps it
    "$CURVO" plot --out "$T/prev" "$@" > /dev/null 2>&1
    [ "$(cat "$T/prev.png")" = "old figure" ] || fail "an earlier PNG was overwritten"
    [ "$(cat "$T/prev.svg")" = "old figure" ] || fail "an earlier SVG was overwritten"
    sed 's/^/  stderr: /' "$T/stderr"
    echo "PASS $CASE"
    exit 0
}

check_figure() { # the figure at $T/fig.{png,svg}, then text the SVG must hold
    [ "$(head -c 8 "$T/fig.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "fig.png is not a PNG"
    [ "$(wc -c < "$T/fig.png")" -gt 20000 ] || fail "fig.png is suspiciously small"
    head -c 200 "$T/fig.svg" | grep -q '^<?xml' || fail "fig.svg is not XML"
    grep -q '<svg' "$T/fig.svg" || fail "fig.svg has no <svg>"
    grep -q '</svg>' "$T/fig.svg" || fail "fig.svg has no </svg>"
    [ "$(wc -c < "$T/fig.svg")" -gt 20000 ] || fail "fig.svg is suspiciously small"
    for text in "$@"; do grep -qF -- "$text" "$T/fig.svg" || fail "fig.svg lacks '$text'"; done
    [ -s "$T/stderr" ] && fail "stderr is not empty"
    no_temp_files || fail "a temporary file was left behind"
}

case "$CASE" in
ok)
    good_logs
    run --out "$T/fig" "$T/adam-1.jsonl" "$T/egn-1.jsonl" "$T/torch-adam-1.jsonl" "$T/egn-2.jsonl" "$T/adam-2.jsonl" ||
        fail "exit $?"
    grep -q "wrote $T/fig.png and $T/fig.svg (3 lines from 5 logs)" "$T/stdout" || fail "no summary line"
    check_figure '<title>mlp on fashion-mnist</title>' 'adam (2 seeds)' 'egn (2 seeds)' 'torch adam (1 seed)' \
        'epochs' 'training time (s)' 'mean mini-batch loss' 'test accuracy (%)' ;;
title_size)
    good_logs
    run --out "$T/fig" --title 'A & B <#1>' --width 800 --height 600 "$T"/*.jsonl || fail "exit $?"
    check_figure '<title>A &amp; B &lt;#1&gt;</title>'
    grep -q 'width="800pt" height="600pt"' "$T/fig.svg" || fail "fig.svg is not 800 x 600"
    [ "$(od -An -tu1 -j16 -N8 "$T/fig.png" | tr -s ' ' | sed 's/^ //')" = "0 0 3 32 0 0 2 88" ] ||
        fail "fig.png is not 800 x 600" ;;
regression)
    log "$T/sgd.jsonl" curvo sgd 1 2 test_rmse
    log "$T/torch-sgd.jsonl" pytorch sgd 1 2 test_rmse
    run --out "$T/fig" "$T/sgd.jsonl" "$T/torch-sgd.jsonl" || fail "exit $?"
    check_figure 'test RMSE vs epochs' 'sgd (1 seed)' 'torch sgd (1 seed)'
    grep -q 'test accuracy' "$T/fig.svg" && fail "a regression figure mentions accuracy" ;;
legend_many)
    r=1
    for o in sgd adam adamw sgn lrsfn sofim arturo 'egn (groupnorm:4)'; do log "$T/c$r.jsonl" curvo "$o" 1 $r; r=$((r + 1)); done
    log "$T/t1.jsonl" pytorch sgd 1 2
    log "$T/t2.jsonl" pytorch adam 1 3
    run --out "$T/fig" "$T"/*.jsonl || fail "exit $?"
    check_figure 'egn (groupnorm:4) (1 seed)' 'torch adam (1 seed)' 'sgd (1 seed)'
    # every pixel of the two outermost columns on each side is the page's background (the top-left
    # pixel's colour): a legend wider than the page would cross them
    python3 - "$T/fig.png" > "$T/edges" 2>&1 <<'PY' || fail "edge pixels: $(cat "$T/edges")"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": hdr = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
assert depth == 8 and interlace == 0 and ctype in (2, 6), hdr
bpp = 3 if ctype == 2 else 4
raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
bg = bytes(rows[0][:bpp])
for y in range(h):
    for x in (0, 1, w - 2, w - 1):
        px = bytes(rows[y][x * bpp:(x + 1) * bpp])
        if px != bg: sys.exit("pixel (%d, %d) is %s, the background %s" % (x, y, px.hex(), bg.hex()))
PY
    ;;
help)
    run --help || fail "exit $?"
    for o in --out --title --width --height 'mean over the seeds'; do grep -q -- "$o" "$T/stdout" || fail "no $o"; done ;;
missing_file)  good_logs; expect 1 "$T/nope.jsonl: No such file" "$T/adam-1.jsonl" "$T/nope.jsonl" ;;
malformed)     good_logs; printf '{"event":"eval","epochs_done":2.25,"loss":0.3\n' >> "$T/egn-2.jsonl"
               expect 1 "egn-2.jsonl:19: unterminated object" "$T/adam-1.jsonl" "$T/egn-2.jsonl" ;;
no_run)        good_logs; tail -n +2 "$T/adam-2.jsonl" > "$T/norun.jsonl"
               expect 1 'norun.jsonl:1: the log does not begin with a "run" line' "$T/adam-1.jsonl" "$T/norun.jsonl" ;;
no_eval)       good_logs; grep -v '"eval"\|"epoch"' "$T/adam-2.jsonl" > "$T/noeval.jsonl"
               expect 1 'noeval.jsonl: no "eval" or "epoch" lines' "$T/adam-1.jsonl" "$T/noeval.jsonl" ;;
empty)         : > "$T/empty.jsonl"; expect 1 'empty.jsonl: empty log' "$T/empty.jsonl" ;;
mixed_metrics) good_logs; log "$T/reg.jsonl" curvo sgd 1 2 test_rmse
               expect 1 'classification and regression' "$T/adam-1.jsonl" "$T/reg.jsonl" ;;
unknown_option) good_logs; expect 2 "unknown option '--bogus'" --bogus "$T/adam-1.jsonl" ;;
bad_width)     good_logs; expect 2 "width" --width 5 "$T/adam-1.jsonl" ;;
no_logs)       expect 2 "no log files given" ;;
without_plplot)
    run --out "$T/fig" "$T/any.jsonl"
    code=$?
    [ $code -eq 1 ] || fail "exit code $code, expected 1"
    grep -q 'built without PLplot (install libplplot-dev plplot-driver-cairo and rebuild)' "$T/stderr" || fail "no hint" ;;
*) echo "unknown case $CASE"; exit 1 ;;
esac
echo "PASS $CASE"

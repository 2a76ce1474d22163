# testdata.sh — sourced by the CLI test scripts: gen_csv DIR ROWS writes DIR/d.csv (columns a, b, c,
# target in 0..2, value = 2a - b + 0.5) from a fixed pattern, and from it DIR/cls.csv (3 classes,
# column target) and DIR/reg.csv (regression, column value).
gen_csv() {
    printf 'a,b,c,target,value\n' > "$1/d.csv"
    i=0
    while [ $i -lt "$2" ]; do
        a=$(( (i * 37) % 101 - 50 )); b=$(( (i * 53) % 97 - 48 )); c=$(( (i * 29) % 89 - 44 ))
        t=0; [ $((a + b)) -gt 0 ] && t=1; [ $((c - a)) -gt 30 ] && t=2
        printf '%d,%d,%d,%d,%d.5\n' $a $b $c $t $((2 * a - b)) >> "$1/d.csv"; i=$((i + 1))
    done
    cut -d, -f1-4 "$1/d.csv" > "$1/cls.csv"
    cut -d, -f1-3,5 "$1/d.csv" > "$1/reg.csv"
}

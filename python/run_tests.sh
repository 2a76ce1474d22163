#!/bin/sh
# run_tests.sh BUILD_DIR [TESTS_DIR [MODULE...]] — the Python tests (python/tests, or TESTS_DIR such
# as bench/papers/tests) against the package in BUILD_DIR/python, with Debian's /usr/bin/python3.
# CTest runs it (tests/CMakeLists.txt); exit 77 (skipped, with the reason) when NumPy, pytest,
# scikit-learn or one of the extra MODULEs (the papers' tests need optuna) is missing.
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tests=${2:-$here/tests}
[ $# -ge 2 ] && shift 2 || shift $#
py=/usr/bin/python3
if [ ! -x "$py" ]; then
    echo "skipped: $py not found (apt-get install python3 python3-numpy python3-sklearn python3-pytest)"
    exit 77
fi
for m in numpy pytest sklearn "$@"; do
    if ! "$py" -c "import $m" 2>/dev/null; then
        echo "skipped: $py lacks the module $m (apt-get install python3-numpy python3-sklearn python3-pytest python3-optuna)"
        exit 77
    fi
done
cd "$build" || exit 1
PYTHONPATH="$build/python" CURVO_BUILD_DIR="$build" exec "$py" -m pytest -q -p no:cacheprovider "$tests"

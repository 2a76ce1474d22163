#!/bin/sh
# install_consumers.sh BUILD_DIR SOURCE_DIR — installs a built curvo into a temporary prefix and
# uses it as another project would (issue 14, docs/INSTALL.md):
#   1. the install manifest: header(s), libcurvo.so with SONAME libcurvo.so.0, libcurvo.a, bin/curvo,
#      curvo.pc, the CMake package, the man page when the build made one; the installed library and
#      program keep the rpath to the OpenMP OpenBLAS when curvo was built with it, and load it;
#   2. every program of examples/ built with find_package(curvo), shared then static, and run;
#   3. every program built with `pkg-config --cflags --libs curvo` (shared) and with
#      `pkg-config --static` against libcurvo.a, and run;
#   4. add_subdirectory() of the source tree from another project, one example built and run.
# Each run is a real check: the examples exit non-zero when they did not learn.
set -eu
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
P=$TMP/prefix
EXAMPLES="train_progress curvature_loop egn_regression"
OPENBLAS_OMP=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/openblas-openmp
fail() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "== $*"; }

# ---- 1. the installation
say "cmake --install $BUILD --prefix $P"
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" || { cat "$TMP/install.log"; fail "cmake --install"; }
MANIFEST=$BUILD/install_manifest.txt
[ -s "$MANIFEST" ] || fail "empty install manifest"
PC=$(find "$P" -name curvo.pc)
[ -n "$PC" ] || fail "no curvo.pc"
LIBDIR=$(dirname "$(dirname "$PC")")
for f in include/curvo.h bin/curvo; do [ -f "$P/$f" ] || fail "$f not installed"; done
for f in libcurvo.a libcurvo.so libcurvo.so.0 cmake/curvo/curvoConfig.cmake cmake/curvo/curvoConfigVersion.cmake \
         cmake/curvo/curvoTargets.cmake; do
  [ -e "$LIBDIR/$f" ] || fail "$LIBDIR/$f not installed"
done
readelf -d "$LIBDIR/libcurvo.so" | grep -q 'Library soname: \[libcurvo.so.0\]' || fail "libcurvo.so's SONAME is not libcurvo.so.0"
if grep -q 'curvo_comm_from_mpi' "$SRC/src/dist/comm_mpi.c" && nm -D "$LIBDIR/libcurvo.so" | grep -q ' T curvo_comm_from_mpi'; then
  [ -f "$P/include/curvo_mpi.h" ] || fail "an MPI build without include/curvo_mpi.h installed"
fi
# the shared library exports the API's curvo_* names and nothing else (cmake/libcurvo.map)
nm -D --defined-only "$LIBDIR/libcurvo.so" | awk '{print $3}' | sort -u >"$TMP/exported.txt"
! grep -v '^curvo_' "$TMP/exported.txt" >"$TMP/extra.txt" || { head "$TMP/extra.txt"; fail "libcurvo.so exports names other than curvo_*"; }
for h in "$P"/include/curvo*.h; do
  sed -n 's/^[a-z].*[ *]\(curvo_[a-z0-9_]*\)(.*/\1/p' "$h"
done | sort -u >"$TMP/declared.txt"
[ "$(wc -l <"$TMP/declared.txt")" -gt 100 ] || fail "could not read the functions of the installed headers"
comm -23 "$TMP/declared.txt" "$TMP/exported.txt" >"$TMP/missing.txt"
[ ! -s "$TMP/missing.txt" ] || { cat "$TMP/missing.txt"; fail "libcurvo.so does not export these functions of the headers"; }
if [ -f "$BUILD/curvo.1" ]; then
  [ -f "$P/share/man/man1/curvo.1" ] || fail "curvo.1 was built but not installed"
  grep -q '^\.SH' "$P/share/man/man1/curvo.1" || fail "curvo.1 is no man page"
fi
if ldd "$BUILD/libcurvo.so" | grep -q "$OPENBLAS_OMP/libopenblas"; then # built with the OpenMP OpenBLAS
  for f in "$LIBDIR/libcurvo.so" "$P/bin/curvo"; do
    readelf -d "$f" | grep -q "R.*PATH.*$OPENBLAS_OMP" || fail "$f lost the rpath to $OPENBLAS_OMP"
    ldd "$f" | grep -q "libopenblas.so.0 => $OPENBLAS_OMP/" || fail "$f does not load $OPENBLAS_OMP/libopenblas.so.0"
  done
  grep -q "rpath,$OPENBLAS_OMP" "$PC" || fail "curvo.pc does not link the OpenMP OpenBLAS for static linking"
fi
"$P/bin/curvo" info --model cnn | grep -q "parameters: 18378" || fail "the installed curvo does not run"
echo "installed: $(wc -l <"$MANIFEST") files"

# run NAME DIR LINKAGE: runs DIR/NAME, checks it loads libcurvo.so from the prefix (shared) or not at all
run() {
  ldd "$2/$1" >"$TMP/ldd.txt"
  if [ "$3" = shared ]; then
    grep -q "libcurvo.so.0 => $LIBDIR/libcurvo.so.0" "$TMP/ldd.txt" || { cat "$TMP/ldd.txt"; fail "$1 ($3) does not load $LIBDIR/libcurvo.so.0"; }
  else
    ! grep -q libcurvo "$TMP/ldd.txt" || fail "$1 ($3) needs libcurvo.so"
  fi
  if ldd "$BUILD/libcurvo.so" | grep -q "$OPENBLAS_OMP/libopenblas"; then
    grep -q "libopenblas.so.0 => $OPENBLAS_OMP/" "$TMP/ldd.txt" || fail "$1 ($3) does not load the OpenMP OpenBLAS"
  fi
  OMP_NUM_THREADS=1 "$2/$1" >"$TMP/run.log" 2>&1 || { cat "$TMP/run.log"; fail "$1 ($3) failed"; }
  echo "   $1 ($3): $(tail -n 1 "$TMP/run.log")"
}

# ---- 2. find_package(curvo)
for linkage in shared static; do
  flag=OFF; [ $linkage = static ] && flag=ON
  say "find_package(curvo), $linkage"
  cmake -S "$SRC/examples" -B "$TMP/fp-$linkage" -DCMAKE_PREFIX_PATH="$P" -DCURVO_EXAMPLES_STATIC=$flag \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$TMP/cfg.log" 2>&1 \
    || { cat "$TMP/cfg.log"; fail "configuring examples/ against the package"; }
  grep -q "from $LIBDIR/cmake/curvo" "$TMP/cfg.log" || { cat "$TMP/cfg.log"; fail "find_package did not find the installed package"; }
  cmake --build "$TMP/fp-$linkage" -j2 >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log"; fail "building examples/ ($linkage)"; }
  for e in $EXAMPLES; do run "$e" "$TMP/fp-$linkage" $linkage; done
done

# ---- 3. pkg-config
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
[ "$(pkg-config --modversion curvo)" = "$(sed -n 's/^project(curvo VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")" ] \
  || fail "pkg-config --modversion curvo"
CC=${CC:-cc}
say "pkg-config --cflags --libs curvo (shared): $(pkg-config --cflags --libs curvo)"
say "pkg-config --static (libcurvo.a): $(pkg-config --static --libs curvo | sed 's/-lcurvo /-l:libcurvo.a /')"
mkdir -p "$TMP/pc"
for e in $EXAMPLES; do
  # shared: the library's own rpath finds the OpenMP OpenBLAS; ours finds libcurvo in this prefix;
  # -lm is for the examples' own tanhf and sqrt
  $CC -std=c11 -O2 -Wall -Wextra -Werror "$SRC/examples/$e.c" -o "$TMP/pc/$e-shared" \
      $(pkg-config --cflags --libs curvo) -lm -Wl,-rpath,"$LIBDIR" || fail "$e: pkg-config shared link"
  run "$e-shared" "$TMP/pc" shared
  # static: libcurvo.a, then everything it needs (Libs.private, Requires.private)
  $CC -std=c11 -O2 -Wall -Wextra -Werror "$SRC/examples/$e.c" -o "$TMP/pc/$e-static" \
      $(pkg-config --cflags curvo) $(pkg-config --static --libs curvo | sed 's/-lcurvo /-l:libcurvo.a /') \
    || fail "$e: pkg-config static link"
  run "$e-static" "$TMP/pc" static
done

# the README's "Using the library" program, as printed there, with its shared link line
awk '/^## Using the library/{u=1} u&&/^```c$/{c=1;next} c&&/^```$/{exit} c' "$SRC/README.md" >"$TMP/pc/readme.c"
grep -q 'int main' "$TMP/pc/readme.c" || fail "no program in the README's Using the library section"
$CC -std=c11 -Wall -Wextra -Werror "$TMP/pc/readme.c" $(pkg-config --cflags --libs curvo) -lm -Wl,-rpath,"$LIBDIR" \
    -o "$TMP/pc/readme" || fail "the README's program does not build"
run readme "$TMP/pc" shared

# ---- 4. add_subdirectory() of the source tree
say "add_subdirectory($SRC)"
mkdir -p "$TMP/sub"
cat >"$TMP/sub/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.18)
project(uses_curvo LANGUAGES C)
add_subdirectory("$SRC" curvo)
foreach(t tests bench) # curvo's own tests and benchmarks are off under another project
  if(TARGET test_curvature OR TARGET bench_dist)
    message(FATAL_ERROR "curvo built its \${t} under add_subdirectory")
  endif()
endforeach()
add_executable(egn_regression "$SRC/examples/egn_regression.c")
target_link_libraries(egn_regression PRIVATE curvo::curvo_static)
CMAKE
cmake -S "$TMP/sub" -B "$TMP/sub/build" -DCMAKE_BUILD_TYPE=Release >"$TMP/cfg.log" 2>&1 \
  || { cat "$TMP/cfg.log"; fail "configuring a project that adds curvo with add_subdirectory"; }
cmake --build "$TMP/sub/build" -j2 --target egn_regression >"$TMP/build.log" 2>&1 \
  || { cat "$TMP/build.log"; fail "building under add_subdirectory"; }
run egn_regression "$TMP/sub/build" static
echo "all consumers built and ran"

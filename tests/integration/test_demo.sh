#!/usr/bin/env bash
# test_demo: scripts/demo runs to the end on a machine without the test packages. cmocka is
# hidden from pkg-config (PKG_CONFIG_LIBDIR names a directory with every .pc file of this
# machine but cmocka.pc), the demo configures and builds a fresh tree of its own and runs its
# three steps. Also checks that configure says why there are no tests, and that
# HD_REQUIRE_TESTS (scripts/test) stops with a message instead of building without them.
#   tests/integration/test_demo.sh SOURCE_DIR     (run by ctest, label "build")
set -euo pipefail

src=${1:?usage: test_demo.sh SOURCE_DIR}
fail() { echo "test_demo: FAIL: $*" >&2; exit 1; }
step() { echo "test_demo: $*"; }

command -v pkg-config >/dev/null || fail "pkg-config is missing (scripts/install-deps build)"
tmp=$(mktemp -d /tmp/hd_demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Every .pc file pkg-config would find (first directory wins, as for pkg-config), minus cmocka.
mkdir "$tmp/pc"
IFS=: read -r -a dirs <<<"${PKG_CONFIG_PATH:+$PKG_CONFIG_PATH:}$(pkg-config --variable pc_path pkg-config)"
for d in "${dirs[@]}"; do
    [ -d "$d" ] || continue
    for pc in "$d"/*.pc; do
        [ -e "$pc" ] || continue
        name=$(basename "$pc")
        [ "$name" = cmocka.pc ] || [ -e "$tmp/pc/$name" ] || ln -s "$pc" "$tmp/pc/$name"
    done
done
export PKG_CONFIG_LIBDIR="$tmp/pc" PKG_CONFIG_PATH=""
pkg-config --exists cmocka && fail "cmocka is still visible to pkg-config"
pkg-config --exists libczmq libzmq msgpack libsodium ||
    fail "the runtime libraries are not visible through $tmp/pc"

step "scripts/demo with cmocka hidden, building in $tmp/build"
(cd "$src" && HEDDLE_DEMO_BUILD="$tmp/build" scripts/demo) >"$tmp/demo.log" 2>&1 ||
    { cat "$tmp/demo.log" >&2; fail "scripts/demo failed without cmocka"; }
grep -q "identical results from the embedded and the real cluster" "$tmp/demo.log" ||
    { cat "$tmp/demo.log" >&2; fail "scripts/demo did not reach the end of step 3"; }
for prog in heddle heddle-broker heddle-worker; do
    [ -x "$tmp/build/$prog" ] || fail "$prog was not built"
done

step "configure says why there is no test suite"
cmake -B "$tmp/build" -S "$src" >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log" >&2; fail "configure failed"; }
grep -q "cmocka not found" "$tmp/configure.log" ||
    { cat "$tmp/configure.log" >&2; fail "configure did not say that cmocka is missing"; }
[ ! -e "$tmp/build/tests" ] || fail "the test suite was configured without cmocka"

step "HD_REQUIRE_TESTS=ON stops configure with a message"
if cmake -B "$tmp/build-req" -S "$src" -DHD_REQUIRE_TESTS=ON >"$tmp/require.log" 2>&1; then
    fail "configure with HD_REQUIRE_TESTS=ON succeeded without cmocka"
fi
grep -q "scripts/install-deps test" "$tmp/require.log" ||
    { cat "$tmp/require.log" >&2; fail "the HD_REQUIRE_TESTS failure does not say what to install"; }
step "ok"

#!/usr/bin/env bash
# test_packaging: the systemd units pass `systemd-analyze verify` once installed, and
# `cpack -G DEB` builds a .deb holding the programs, libheddle, the public header, both units
# and the example config, with Package/Architecture/Depends in its control data.
#   tests/integration/test_packaging.sh SOURCE_DIR BUILD_DIR     (run by ctest; needs a built tree)
# A missing tool (systemd-analyze, dpkg-deb, dpkg-shlibdeps) is a failure, not a skip:
# install it with `scripts/install-deps pkg` (dpkg-dev) or `apt-get install systemd`.
set -euo pipefail

src=${1:?usage: test_packaging.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: test_packaging.sh SOURCE_DIR BUILD_DIR}
fail() { echo "test_packaging: FAIL: $*" >&2; exit 1; }
step() { echo "test_packaging: $*"; }

for tool in systemd-analyze dpkg-deb dpkg-shlibdeps cpack; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps pkg; systemd-analyze is in the systemd package)"
done
[ -x "$build/heddle-broker" ] && [ -x "$build/heddle-worker" ] && [ -x "$build/heddle" ] ||
    fail "build the tree first: cmake --build $build"

tmp=$(mktemp -d /tmp/hd_packaging.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

step "cmake --install into $tmp/root"
cmake --install "$build" --prefix "$tmp/root/usr" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
for f in bin/heddle-broker bin/heddle-worker bin/heddle include/hd_client.h \
         lib/systemd/system/heddle-broker.service lib/systemd/system/heddle-worker.service \
         share/doc/heddle/heddle.conf.example; do
    [ -e "$tmp/root/usr/$f" ] || fail "cmake --install did not install $f"
done
find "$tmp/root/usr" -name 'libheddle.so*' | grep -q . ||
    fail "cmake --install did not install libheddle.so"
for f in lib/python3/dist-packages/heddle/__init__.py lib/python3/dist-packages/heddle/client.py \
         lib/python3/dist-packages/heddle/worker/__main__.py \
         share/doc/heddle/examples/heddle-python-worker.service; do
    [ -e "$tmp/root/usr/$f" ] || fail "cmake --install did not install $f"
done
# The installed Python package finds the installed programs next to it (PREFIX/bin).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
found=$(cd / && PYTHONPATH="$tmp/root/usr/lib/python3/dist-packages" PYTHONDONTWRITEBYTECODE=1 \
        HEDDLE_BIN_DIR= PATH=/usr/bin:/bin "$py" -c 'import heddle.cluster as c; print(c.find_bin_dir())') ||
    fail "the installed heddle Python package does not import (python3-zmq, python3-msgpack: scripts/install-deps test)"
[ "$found" = "$tmp/root/usr/bin" ] || fail "installed heddle looks for the programs in $found, not $tmp/root/usr/bin"

# The installed programs find the installed libheddle.so.0 (RPATH $ORIGIN/../lib), not the
# build tree's and without LD_LIBRARY_PATH (issue 12: they did not).
step "installed programs find their library"
for prog in heddle heddle-broker heddle-worker; do
    env -u LD_LIBRARY_PATH "$tmp/root/usr/bin/$prog" --help >/dev/null 2>"$tmp/run.err" ||
        { cat "$tmp/run.err" >&2; fail "installed $prog --help failed"; }
done
lib=$(env -u LD_LIBRARY_PATH ldd "$tmp/root/usr/bin/heddle" | awk '/libheddle/ { print $3 }')
case "$lib" in
    "$tmp/root/usr/"*) ;;
    *) fail "installed heddle loads libheddle from '$lib', not from the install prefix" ;;
esac

# Man pages and bash completion, made from the programs' --help at build time (issue 12).
step "man pages and bash completion"
command -v man >/dev/null || fail "man is missing (scripts/install-deps pkg: man-db)"
for page in man1/heddle.1 man8/heddle-broker.8 man8/heddle-worker.8; do
    f="$tmp/root/usr/share/man/$page"
    [ -e "$f" ] || fail "cmake --install did not install $page"
    MANWIDTH=80 man -l "$f" 2>"$tmp/man.err" | grep -q -- '--help' ||
        { cat "$tmp/man.err" >&2; fail "man -l $page shows no options"; }
done
MANWIDTH=80 man -l "$tmp/root/usr/share/man/man1/heddle.1" 2>/dev/null | grep -q -- '--split' ||
    fail "heddle(1) does not describe map --split"
comp="$tmp/root/usr/share/bash-completion/completions/heddle"
[ -e "$comp" ] || fail "cmake --install did not install the bash completion"
bash -c "source '$comp' && complete -p heddle" | grep -q _heddle ||
    fail "the completion script does not register a completion for heddle"
got=$(bash -c "source '$comp'; COMP_WORDS=(heddle ma); COMP_CWORD=1; _heddle; echo \${COMPREPLY[*]}")
[ "$got" = map ] || fail "completing 'heddle ma' gave '$got', not 'map'"
got=$(bash -c "source '$comp'; COMP_WORDS=(heddle nodes app); COMP_CWORD=2; _heddle; echo \${COMPREPLY[*]}")
[ "$got" = approve ] || fail "completing 'heddle nodes app' gave '$got', not 'approve'"
got=$(bash -c "source '$comp'; COMP_WORDS=(heddle map --spl); COMP_CWORD=2; _heddle; echo \${COMPREPLY[*]}")
[ "$got" = --split ] || fail "completing 'heddle map --spl' gave '$got', not '--split'"
[ -L "$tmp/root/usr/share/bash-completion/completions/heddle-broker" ] ||
    fail "no completion link for heddle-broker"

# The installed units name the installed programs, so verify checks ExecStart for real.
step "systemd-analyze verify"
units=("$tmp/root/usr/lib/systemd/system/heddle-broker.service"
       "$tmp/root/usr/lib/systemd/system/heddle-worker.service")
# Each connection costs a file: a unit without LimitNOFILE leaves the broker 1024 (issue 11).
for u in "${units[@]}"; do
    grep -q '^LimitNOFILE=[0-9]' "$u" || fail "$(basename "$u") sets no LimitNOFILE"
    grep -q '^StateDirectoryMode=0700$' "$u" ||
        fail "$(basename "$u"): the state directory may hold a secret key: StateDirectoryMode=0700"
done
grep -q "^ExecStart=$tmp/root/usr/bin/heddle-broker " "${units[0]}" ||
    fail "the broker unit does not run the installed program: $(grep ExecStart "${units[0]}")"
out=$(systemd-analyze verify "${units[@]}" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
for u in "${units[@]}"; do
    for d in After=network-online.target Restart=on-failure User=heddle ProtectSystem=strict \
             ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes StateDirectory= \
             ConfigurationDirectory=heddle; do
        grep -q "^$d" "$u" || fail "$(basename "$u") lacks $d"
    done
done
grep -q -- "--journal-dir /var/lib/heddle/journal" "${units[0]}" || fail "broker journal not in /var/lib/heddle/journal"

step "cpack -G DEB"
(cd "$tmp" && cpack -G DEB -B "$tmp/pkg" --config "$build/CPackConfig.cmake") >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$tmp"/pkg/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$tmp/cpack.log" >&2; fail "cpack made no .deb"; }

step "dpkg-deb -c $(basename "$deb")"
list=$(dpkg-deb -c "$deb")
for pat in '/usr/bin/heddle-broker$' '/usr/bin/heddle-worker$' '/usr/bin/heddle$' \
           '/libheddle\.so' '/usr/include/hd_client\.h$' \
           '/usr/lib/systemd/system/heddle-broker\.service$' \
           '/usr/lib/systemd/system/heddle-worker\.service$' \
           '/usr/share/doc/heddle/heddle\.conf\.example$' \
           '/usr/lib/python3/dist-packages/heddle/__init__\.py$' \
           '/usr/lib/python3/dist-packages/heddle/worker/__main__\.py$'; do
    grep -Eq "$pat" <<<"$list" || fail "the .deb lacks $pat; it holds:
$list"
done
# Read the unit whole before grepping: with pipefail, `tar | grep -q` fails whenever grep exits
# before tar's last write (the unit comes out in two writes when it straddles a tar record).
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/lib/systemd/system/heddle-broker.service)
grep -q '^ExecStart=/usr/bin/heddle-broker ' <<<"$unit" ||
    fail "the packaged unit does not run /usr/bin/heddle-broker"

step "dpkg-deb -I"
info=$(dpkg-deb -I "$deb")
grep -q '^ Package: heddle$' <<<"$info" || fail "no 'Package: heddle': $info"
grep -q "^ Architecture: $(dpkg --print-architecture)\$" <<<"$info" || fail "wrong Architecture: $info"
grep -Eq '^ Depends: .*libczmq4' <<<"$info" || fail "Depends lacks libczmq4 (shlibdeps): $info"
grep -Eq '^ Depends: .*libsodium' <<<"$info" || fail "Depends lacks libsodium (shlibdeps): $info"
grep -Eq '^ Recommends: .*python3-zmq' <<<"$info" || fail "Recommends lacks python3-zmq: $info"
grep -q 'postinst' <<<"$info" || fail "no postinst (the heddle user): $info"
step "ok"

#!/bin/bash
# The .deb installs and runs from a scratch root: cpack builds it from this
# build tree, dpkg -x unpacks it, and the unpacked virtform runs.
#   tests/package/deb_test.sh BUILD_DIR
set -euo pipefail
build=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/virtform-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$tmp"/out/virtform_*.deb 2>/dev/null | head -1)
[[ -n $deb ]] || fail "no .deb in $tmp/out: $(ls "$tmp/out")"
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *libvirt0* ]] || fail "Depends lacks libvirt0 (shlibdeps): $depends"
[[ $depends == *libnl-route-3* ]] || fail "Depends lacks libnl-route-3 (shlibdeps): $depends"
# Opened when first used (not linked): named by CMakeLists.txt, not by shlibdeps.
for p in libgvc6 libcgraph6 libisofs6; do
    [[ $depends == *"$p"* ]] || fail "Depends lacks $p (opened by dlopen): $depends"
done

dpkg -x "$deb" "$tmp/root"
for f in usr/bin/virtform usr/share/man/man1/virtform.1 \
         usr/share/bash-completion/completions/virtform usr/share/zsh/vendor-completions/_virtform \
         usr/share/fish/vendor_completions.d/virtform.fish usr/share/doc/virtform/README.md \
         usr/share/doc/virtform/examples/nat-lab.yaml; do
    [[ -e $tmp/root/$f ]] || fail "the package lacks /$f"
done
version=$("$tmp/root/usr/bin/virtform" --version)
[[ $version == "virtform "* ]] || fail "virtform --version from the package printed: $version"
"$tmp/root/usr/bin/virtform" validate "$tmp/root/usr/share/doc/virtform/examples/nat-lab.yaml" >/dev/null ||
    fail "the packaged virtform does not validate the packaged example"
echo "ok: $(basename "$deb") ($version); Depends: $depends"

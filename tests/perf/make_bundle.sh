#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Pack cnmux, cnmuxctl, dpdk-testpmd, every shared library they need
# (ldd, the dynamic loader and libc included), the PMDs the benchmark uses
# (bus_vdev, mempool_ring, net_pcap, net_null, and their own libraries such
# as libpcap) and the benchmark scripts into one directory and a .tar.gz,
# for a machine without DPDK:
#
#   tests/perf/make_bundle.sh [OUTDIR]      (default build/cnmux-perf-bundle)
#   scp build/cnmux-perf-bundle.tar.gz big-machine:
#   big-machine$ tar xzf cnmux-perf-bundle.tar.gz && sudo cnmux-perf-bundle/run.sh
#
# run.sh runs tests/perf/multicore.sh (its arguments are passed on); run.sh
# bench ARGS runs bench.py instead. Every program runs through the bundled
# dynamic loader with LD_LIBRARY_PATH set to the bundle's lib/ (for the
# programs only, not for python3), and EAL loads each PMD with -d FILE.
# The target needs python3 and Linux on x86-64; nothing else. Unpack it
# outside /tmp: EAL loads no -d file below a world-writable directory.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/build/cnmux-perf-bundle}
cnmux=${CNMUX:-$repo/build/app/cnmux/cnmux}
cnmuxctl=${CNMUXCTL:-$repo/build/app/cnmuxctl/cnmuxctl}
testpmd=${TESTPMD:-$(command -v dpdk-testpmd || true)}
[ -x "$cnmux" ] || { echo "make_bundle: no cnmux at $cnmux (ninja -C build)"; exit 1; }
[ -n "$testpmd" ] && [ -x "$testpmd" ] || { echo "make_bundle: no dpdk-testpmd"; exit 1; }

# the PMD directory of the DPDK cnmux is linked with
eal=$(ldd "$cnmux" | awk '/librte_eal/ {print $3}')
pmddir=""
for d in "$(dirname "$eal")"/dpdk/pmds-* /usr/lib/*/dpdk/pmds-* /usr/local/lib/*/dpdk/pmds-*; do
    [ -d "$d" ] && { pmddir=$d; break; }
done
[ -n "$pmddir" ] || { echo "make_bundle: no DPDK PMD directory found"; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/perf"
cp -L "$cnmux" "$cnmuxctl" "$testpmd" "$out/bin/"
pmds=""
for p in bus_vdev mempool_ring net_pcap net_null; do
    f=$(ls "$pmddir"/librte_"$p".so.* 2>/dev/null | head -1)
    [ -n "$f" ] || { echo "make_bundle: no librte_$p in $pmddir"; exit 1; }
    # under its soname (librte_net_pcap.so.23), in lib/ beside the other
    # libraries: a program that links one of them (testpmd links
    # librte_bus_vdev) and EAL's -d must load the same file, not two copies
    so=$(basename "$f" | sed 's/\(\.so\.[0-9]*\).*/\1/')
    cp -L "$f" "$out/lib/$so"
    pmds="$pmds $so"
done
for f in "$out"/bin/* "$out"/lib/librte_*; do
    ldd "$f" | awk '/=> \// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'
done | sort -u | while read -r lib; do
    cp -L "$lib" "$out/lib/"
done
ld=$(ls "$out"/lib/ld-linux*.so* | head -1)
ld=$(basename "$ld")
cp "$repo"/tests/perf/bench.py "$repo"/tests/perf/perflib.py "$repo"/tests/lib/pcapio.py "$repo"/tests/perf/multicore.sh \
    "$repo"/tests/perf/plot.py "$out/perf/"
git -C "$repo" describe --always --dirty > "$out/VERSION" 2>/dev/null || true

# the directory EAL loads every PMD from by itself (compiled into librte_eal)
pmd_dir=$(strings "$out"/lib/librte_eal.so.* | grep -m1 -E '^/.*/pmds-[0-9.]+$' || true)

cat > "$out/run.sh" <<EOF
#!/bin/sh
# cnmux performance bundle: run.sh [multicore.sh ARGS] | run.sh bench [bench.py ARGS]
here=\$(cd "\$(dirname "\$0")" && pwd)
run="env LD_LIBRARY_PATH=\$here/lib \$here/lib/$ld"
export CNMUX="\$run \$here/bin/$(basename "$cnmux")"
export CNMUXCTL="\$run \$here/bin/$(basename "$cnmuxctl")"
export TESTPMD="\$run \$here/bin/$(basename "$testpmd")"
# EAL refuses a -d file below a world-writable directory (/tmp)
d=\$here
while [ "\$d" != / ]; do
    if [ -n "\$(find "\$d" -maxdepth 0 -perm -0002)" ]; then
        echo "run.sh: \$d is world-writable: EAL will not load the PMDs below it; move the bundle (e.g. to \$HOME)"
        exit 1
    fi
    d=\$(dirname "\$d")
done
# On a machine with DPDK installed, EAL would also load the system's PMDs
# from its built-in directory, next to the bundle's: two copies of each
# (PANIC "tailq is already registered"). Hide that directory from this run
# only, in a mount namespace of its own (needs root, as the run does).
sysdir="$pmd_dir"
if [ -n "\$sysdir" ] && [ -d "\$sysdir" ] && [ -z "\${CNMUX_BUNDLE_NS:-}" ]; then
    exec env CNMUX_BUNDLE_NS=1 unshare -m sh -c 'mount -t tmpfs none "\$0" && exec sh "\$@"' \
        "\$sysdir" "\$here/run.sh" "\$@"
fi
eal=""
for p in $pmds; do eal="\$eal -d \$here/lib/\$p"; done
export EAL_EXTRA="\$eal"
if [ "\${1:-}" = bench ]; then
    shift
    exec python3 "\$here/perf/bench.py" "\$@"
fi
exec sh "\$here/perf/multicore.sh" "\$@"
EOF
chmod +x "$out/run.sh"
tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
echo "bundle: $out ($(du -sh "$out" | cut -f1)), $out.tar.gz"
echo "libraries: $(ls "$out/lib" | wc -l), PMDs loaded with -d:$pmds"

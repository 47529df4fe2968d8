#!/usr/bin/env bash
# Runs Linecard's DAHDI backend tests against the real DAHDI driver, without hardware:
# builds Debian's dahdi-dkms modules for Debian's 6.1 kernel, boots that kernel under QEMU
# (TCG: this machine's KVM cannot run a guest) with an initramfs that loads dahdi,
# dahdi_dynamic and dahdi_dynamic_loc, configures looped local spans (system.conf here) and
# runs Tests/DahdiCardTests inside the guest. The guest reports on its serial console; this
# script fails on any failure, and fails loudly when the machine cannot run it at all.
#
#   Tools/dahdi-guest/run.sh            build what is missing, boot, test
#   LINECARD_GUEST_TESTS="DahdiCardTests.DahdiLoopTests" Tools/dahdi-guest/run.sh
#
# Needs root (or sudo) for apt-get and dkms the first time. The test bundle is the debug
# build's (.build/debug/LinecardPackageTests.xctest); it is built when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${LINECARD_GUEST_WORK:-$root/.build-dahdi-guest}"
tests="${LINECARD_GUEST_TESTS:-DahdiCardTests.DahdiLoopTests,DahdiCardTests.DahdiAnalogPairTests,DahdiCardTests.DahdiToolTests,DahdiCardTests.DahdiTickAllocationTests,DahdiCardTests.DahdiAlarmTests,DahdiCardTests.DahdiIsdnTests}"
timeout_seconds="${LINECARD_GUEST_TIMEOUT:-480}"
export PATH="$PATH:/opt/swift/usr/bin:/usr/sbin:/sbin"

fail() { echo "dahdi-guest: FAIL: $*" >&2; exit 1; }
say() { echo "dahdi-guest: $*"; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# 1. Packages: QEMU, a static busybox for the initramfs, the DAHDI tools (dahdi_cfg,
#    dahdi_test) and the modules' source with the 6.1 kernel headers.
packages=(qemu-system-x86 busybox-static dahdi dahdi-dkms linux-headers-amd64 dkms)
"$root/Tools/scripts/install-dependencies.sh" "${packages[@]}" \
    || fail "cannot install ${packages[*]} (Debian 12 packages; needs root or sudo)"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is not installed"

# 2. The kernel the headers are for (Debian's 6.1), and the modules built for it.
headers="$(ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | sort -V | tail -1)"
[ -n "$headers" ] || fail "no Debian 6.1 kernel headers (/usr/src/linux-headers-6.1.*-amd64)"
kver="${headers#/usr/src/linux-headers-}"
dahdi_version="$(ls -d /usr/src/dahdi-* 2>/dev/null | grep -v tar | sort -V | tail -1)"
dahdi_version="${dahdi_version#/usr/src/dahdi-}"
[ -n "$dahdi_version" ] || fail "dahdi-dkms left no source in /usr/src/dahdi-*"
modules="/lib/modules/$kver/updates/dkms"
if ! ls "$modules"/dahdi_dynamic_loc.ko* >/dev/null 2>&1; then
    say "building dahdi $dahdi_version for $kver (about two minutes)"
    $sudo dkms build -m dahdi -v "$dahdi_version" -k "$kver" >/dev/null || fail "dkms build of dahdi $dahdi_version for $kver failed"
    $sudo dkms install -m dahdi -v "$dahdi_version" -k "$kver" >/dev/null || fail "dkms install of dahdi for $kver failed"
fi
mkdir -p "$work"
kernel="$work/kernel-$kver/boot/vmlinuz-$kver"
if [ ! -f "$kernel" ]; then
    say "fetching linux-image-$kver"
    (cd "$work" && rm -f linux-image-*.deb && apt-get download "linux-image-$kver" >/dev/null 2>&1) \
        || fail "cannot download linux-image-$kver"
    dpkg-deb -x "$work"/linux-image-"$kver"_*.deb "$work/kernel-$kver"
fi

# 3. The test bundle and the linecard tool (the tool tests run it from beside the bundle).
bundle="$root/.build/debug/LinecardPackageTests.xctest"
tool="$root/.build/debug/linecard"
if [ ! -x "$bundle" ] || [ ! -x "$tool" ]; then
    say "building the tests"
    (cd "$root" && swift build --build-tests) || fail "the tests did not build"
fi

# 4. The initramfs: busybox, the modules, dahdi_cfg/dahdi_test, the bundle and every shared
#    library they load (copied from this Debian 12 host: the guest runs the same userland).
rootfs="$work/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc/dahdi,lib/linecard,lib64,usr/sbin,linecard/lib}
cp /bin/busybox "$rootfs/bin/busybox"
cp "$here/init" "$rootfs/init"
cp "$here/system.conf" "$rootfs/etc/dahdi/system.conf"
for m in dahdi dahdi_dynamic dahdi_dynamic_loc; do
    src="$(ls "$modules/$m".ko* | head -1)"
    case "$src" in
        *.xz) xz -dc "$src" >"$rootfs/lib/linecard/$m.ko" ;;
        *.zst) zstd -dqc "$src" >"$rootfs/lib/linecard/$m.ko" ;;
        *) cp "$src" "$rootfs/lib/linecard/$m.ko" ;;
    esac
done
cp /usr/sbin/dahdi_cfg /usr/sbin/dahdi_test "$rootfs/usr/sbin/"
objcopy --strip-debug "$bundle" "$rootfs/linecard/LinecardPackageTests.xctest"
objcopy --strip-debug "$tool" "$rootfs/linecard/linecard"
echo "$tests" >"$rootfs/linecard/tests"
for binary in "$bundle" "$tool" /usr/sbin/dahdi_cfg /usr/sbin/dahdi_test; do
    ldd "$binary" | awk '/=> \// { print $3 }'
done | sort -u | while read -r lib; do
    objcopy --strip-debug "$lib" "$rootfs/linecard/lib/$(basename "$lib")" 2>/dev/null || cp -L "$lib" "$rootfs/linecard/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
(cd "$rootfs" && find . | busybox cpio -o -H newc 2>/dev/null) >"$work/initramfs.cpio"
say "initramfs $(du -m "$work/initramfs.cpio" | cut -f1) MB; booting $kver under QEMU (TCG)"

# 5. Boot. TCG, not KVM: this kind of machine has /dev/kvm without vmx/svm, where -enable-kvm
#    aborts. The guest powers off when done; the timeout catches a hung guest.
console="$work/console.log"
set +e
timeout "$timeout_seconds" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet loglevel=4" </dev/null | tee "$console"
qemu_status=${PIPESTATUS[0]}
set -e
[ "$qemu_status" -ne 124 ] || fail "the guest did not finish within $timeout_seconds s (console: $console)"
result="$(grep -a "^LINECARD-GUEST-RESULT:" "$console" | tail -1 | tr -d '\r')"
[ -n "$result" ] || fail "the guest reported no result (QEMU exit $qemu_status; console: $console)"
summary="$(grep -a -E "Executed [0-9]+ tests?, with" "$console" | tail -1)"
if echo "$summary" | grep -q -E "with [0-9]+ tests? skipped"; then
    fail "tests were skipped in the guest, where DAHDI must be present"
fi
echo "$summary" | grep -q -E "Executed [0-9]+ tests?, with 0 failures" || fail "the tests in the guest failed: $result"
[ "$result" = "LINECARD-GUEST-RESULT: PASS" ] || fail "$result"
say "PASS: the DAHDI backend tests passed against the real driver ($(grep -a -c "' passed (" "$console") tests)"

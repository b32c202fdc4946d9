#!/usr/bin/env bash
# One firmware integration test: boots the lwsp firmware image
# (examples/firmware) in QEMU on TAP device lwsp0, waits for
# "lwsp-firmware: ready", runs one kernel-side test (a Python file beside
# this one) against it, checks that the firmware is still running, prints
# its console, and stops QEMU — also when the test fails or is interrupted.
#
# Usage (as root, from anywhere; CTest runs it this way, label firmware):
#   scripts/netns-run -- bash test/firmware/fw_test.sh IMAGE TEST.py [ARGS...]
# e.g. scripts/netns-run -- bash test/firmware/fw_test.sh build/firmware/lwsp_firmware.elf test_close.py graceful
# It refuses to run outside the namespace netns-run makes, so no packet
# leaves it.  Exits 77 (skipped) when qemu-system-arm, root, /dev/net/tun,
# python3 or the image is missing.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/lib/qemu_fw.sh"

image="${1:?usage: fw_test.sh IMAGE TEST.py [ARGS...]}"
test="${2:?usage: fw_test.sh IMAGE TEST.py [ARGS...]}"
shift 2
name="firmware ${test%.py}${*:+ $*}"

if ! why="$(lwsp_fw_check "$image")"; then
    echo "$name: $why"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "$name: skipped: python3 is missing (scripts/setup installs it)"
    exit 77
fi
if [[ -z "${LWSP_NETNS:-}" || -z "${LWSP_TAP:-}" ]]; then
    echo "$name: run me through scripts/netns-run (a private namespace with TAP device lwsp0)" >&2
    exit 2
fi

log="$(mktemp)"
# shellcheck disable=SC2317  # (cleanup runs from the EXIT trap)
cleanup() {
    lwsp_fw_stop
    if [[ -s "$log" ]]; then
        echo "--- firmware console ---"
        sed 's/\r$//; s/^/  | /' "$log"
    fi
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
lwsp_fw_start "" "$LWSP_TAP" "$image" "$log"
echo "$name: QEMU (pid $LWSP_FW_PID) booting $image on $LWSP_TAP in namespace $LWSP_NETNS"
if ! lwsp_fw_wait_ready "$log"; then
    echo "$name: FAIL: the firmware did not become ready"
    exit 1
fi
echo "$name: firmware ready after $((SECONDS - started)) s"

python3 -B "$here/$test" "$@"   # -B: no __pycache__ in the source tree
rc=$?
if [[ -n "$LWSP_FW_PID" ]] && ! _lwsp_fw_alive "$LWSP_FW_PID"; then
    echo "$name: FAIL: QEMU exited during the test"
    rc=1
fi
echo "$name: $([[ $rc -eq 0 ]] && echo passed || echo "FAILED (status $rc)") in $((SECONDS - started)) s"
exit $rc

#!/usr/bin/env bash
# One integration test of lwsp's WSP service (examples/service: TCP/UDP echo
# on port 7, the control port 9000) against the Linux kernel: starts the
# target on TAP device lwsp0, waits for its ready line, runs one
# kernel-side test (a Python file beside this one) against it, checks that
# the target is still running, prints its console, and stops everything —
# also when the test fails or is interrupted.  The targets
# (scripts/lib/wsp_target.sh):
#
#   qemu IMAGE         the firmware image (examples/firmware) in QEMU, its
#                      LAN9118 on lwsp0
#   tunnel PROGRAM     lwsp_tunnel_service (Linux build) over a UDP tunnel,
#                      a socat bridge between the tunnel and lwsp0
#   wine PROGRAM.exe   lwsp_tunnel_service.exe (Windows build) under Wine,
#                      the same bridge
#
# Usage (as root, from anywhere; CTest runs it this way, labels firmware,
# tunnel and wine):
#   scripts/netns-run -- bash test/firmware/fw_test.sh [KIND] TARGET TEST.py [ARGS...]
# KIND defaults to qemu.  e.g.
#   scripts/netns-run -- bash test/firmware/fw_test.sh build/firmware/lwsp_firmware.elf test_close.py graceful
#   scripts/netns-run -- bash test/firmware/fw_test.sh tunnel build/tunnel/examples/lwsp_tunnel_service test_udp.py
# It refuses to run outside the namespace netns-run makes, so no packet
# leaves it.  Exits 77 (skipped) when what the target needs (QEMU, socat,
# Wine, root, /dev/net/tun), python3 or the target itself is missing.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/lib/qemu_fw.sh"
source "$root/scripts/lib/wsp_target.sh"

usage="usage: fw_test.sh [qemu|tunnel|wine] TARGET TEST.py [ARGS...]"
kind=qemu
case "${1:-}" in
    qemu|tunnel|wine) kind="$1"; shift ;;
esac
target="${1:?$usage}"
test="${2:?$usage}"
shift 2
what=firmware
[[ "$kind" != qemu ]] && what="$kind"
name="$what ${test%.py}${*:+ $*}"

if ! why="$(lwsp_target_check "$kind" "$target")"; then
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
    lwsp_target_stop
    if [[ -s "$log" ]]; then
        echo "--- $what console ---"
        sed 's/\r$//; s/^/  | /' "$log"
    fi
    if [[ -s "$log.bridge" && ${rc:-1} -ne 0 ]]; then
        echo "--- socat bridge ---"
        sed 's/^/  | /' "$log.bridge"
    fi
    rm -f "$log" "$log.bridge"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
if ! lwsp_target_start "$kind" "$target" "$LWSP_TAP" "$log"; then
    echo "$name: FAIL: the $kind target did not start"
    exit 1
fi
echo "$name: $kind target (pid $LWSP_TARGET_PID) starting $target on $LWSP_TAP in namespace $LWSP_NETNS"
if ! lwsp_target_wait_ready "$log"; then
    echo "$name: FAIL: the $kind target did not become ready"
    exit 1
fi
echo "$name: ready after $((SECONDS - started)) s"

python3 -B "$here/$test" "$@"   # -B: no __pycache__ in the source tree
rc=$?
if ! lwsp_target_alive; then
    echo "$name: FAIL: the $kind target exited during the test"
    rc=1
else
    # The port's counters, for the record (the control port's `stats`).
    python3 -B -c 'import sys; sys.path.insert(0, sys.argv[1]); import fw_peer; print("  port counters: " + fw_peer.control("stats", timeout=15.0))' \
        "$root/scripts/lib" 2>/dev/null || echo "  (no reply to 'stats')"
    # The Linux program shuts down cleanly on SIGTERM: sockets closed, the
    # stack stopped, exit status 0 (a sanitizer's report would change it).
    lwsp_target_finish
    status=$?
    if [[ "$kind" == tunnel ]]; then
        if [[ $status -eq 0 ]]; then
            echo "  ok    the program stopped cleanly on SIGTERM (exit status 0)"
        else
            echo "  FAIL  the program's exit status after SIGTERM is $status, not 0"
            rc=1
        fi
    fi
fi
echo "$name: $([[ $rc -eq 0 ]] && echo passed || echo "FAILED (status $rc)") in $((SECONDS - started)) s"
exit $rc

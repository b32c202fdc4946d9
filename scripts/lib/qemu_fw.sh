# shellcheck shell=bash
# scripts/lib/qemu_fw.sh — the firmware image (examples/firmware) on QEMU's
# Arm MPS2 AN386 board (Cortex-M4), its LAN9118 Ethernet controller attached
# to a TAP device inside a network namespace.  Shared by scripts/firmware-demo
# and the firmware integration tests (test/firmware).  Source it, then:
#
#   lwsp_fw_check IMAGE             says why the firmware cannot run here and
#                                   returns 77 (CTest: skipped) when
#                                   qemu-system-arm, /dev/net/tun or root is
#                                   missing or IMAGE is not built; 0 otherwise
#   lwsp_fw_start NS TAP IMAGE LOG  starts QEMU in namespace NS ("" = the
#                                   current one) on TAP device TAP, console
#                                   (the CMSDK UART) written to LOG; the pid
#                                   is left in LWSP_FW_PID
#   lwsp_fw_wait_ready LOG [SECS]   waits until LOG shows "lwsp-firmware:
#                                   ready" (polled, at most SECS seconds,
#                                   default $LWSP_FW_BOOT_TIMEOUT or 60);
#                                   returns 1 when QEMU exits or time runs out
#   lwsp_fw_stop                    stops QEMU (TERM, KILL after 5 s) and
#                                   reaps it; harmless when it is not running
#   lwsp_stop_child PID [SIGNAL]    the same for any child process
#
# Call lwsp_fw_start from the shell that will stop QEMU, not from a command
# substitution or pipeline: QEMU runs under `setpriv --pdeathsig KILL`, so it
# dies with the process that started it — also when that process is killed
# (a CTest timeout sends SIGKILL, which runs no EXIT trap).  Callers put
# lwsp_fw_stop in an EXIT trap, before deleting the namespace.
#
# The firmware's MAC address (locally administered), its addresses are
# 192.0.2.1 and 2001:db8::1; the kernel side of the TAP device has .2 / ::2.
LWSP_FW_MAC="${LWSP_FW_MAC:-02:4c:57:53:50:01}"
LWSP_FW_READY="lwsp-firmware: ready"
LWSP_FW_PID=""

lwsp_fw_check() {
    local image="$1"
    if ! command -v qemu-system-arm >/dev/null 2>&1; then
        echo "skipped: qemu-system-arm is missing (Debian package qemu-system-arm; scripts/setup installs it)"
        return 77
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "skipped: needs root (a network namespace and a TAP device for QEMU's LAN9118)"
        return 77
    fi
    if [[ ! -c /dev/net/tun ]]; then
        echo "skipped: /dev/net/tun is missing (modprobe tun, or pass the device into the container)"
        return 77
    fi
    if [[ -z "$image" || ! -f "$image" ]]; then
        echo "skipped: firmware image '${image}' is not built (cmake -S examples/firmware -B build/firmware -G Ninja -DCMAKE_TOOLCHAIN_FILE=\$PWD/cmake/toolchains/arm-none-eabi.cmake && cmake --build build/firmware)"
        return 77
    fi
    return 0
}

lwsp_fw_start() {
    local ns="$1" tap="$2" image="$3" log="$4"
    local -a qemu=(setpriv --pdeathsig KILL
                   qemu-system-arm -M mps2-an386 -nographic -monitor none -serial stdio
                   -kernel "$image"
                   -nic "tap,ifname=$tap,script=no,downscript=no,model=lan9118,mac=$LWSP_FW_MAC")
    : >"$log"
    if [[ -n "$ns" ]]; then
        # ip netns exec replaces itself with the command: $! is QEMU's pid.
        ip netns exec "$ns" "${qemu[@]}" </dev/null >>"$log" 2>&1 &
    else
        "${qemu[@]}" </dev/null >>"$log" 2>&1 &
    fi
    LWSP_FW_PID=$!
}

# Whether process $1 runs (a zombie, exited but not reaped yet, does not).
_lwsp_fw_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat="${stat##*) }"            # after "pid (comm) ": the state letter
    [[ "${stat:0:1}" != Z ]]
}

lwsp_fw_wait_ready() {
    local log="$1" secs="${2:-${LWSP_FW_BOOT_TIMEOUT:-60}}"
    local deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        if grep -q "$LWSP_FW_READY" "$log" 2>/dev/null; then
            return 0
        fi
        if [[ -n "$LWSP_FW_PID" ]] && ! _lwsp_fw_alive "$LWSP_FW_PID"; then
            local status=0
            wait "$LWSP_FW_PID" 2>/dev/null || status=$?
            echo "QEMU exited (status $status) before the firmware said '$LWSP_FW_READY'" >&2
            LWSP_FW_PID=""
            return 1
        fi
        sleep 0.1
    done
    echo "the firmware did not say '$LWSP_FW_READY' within ${secs} s" >&2
    return 1
}

# Stops child process $1 with signal $2 (TERM if not given), waits up to
# 5 s for it to end, then KILLs it, and reaps it.  Safe under set -e: a
# process that is already gone is no error.
lwsp_stop_child() {
    local pid="$1" sig="${2:-TERM}" i
    [[ -n "$pid" ]] || return 0
    if kill -"$sig" "$pid" 2>/dev/null; then
        for ((i = 0; i < 50; i++)); do
            _lwsp_fw_alive "$pid" || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

lwsp_fw_stop() {
    local pid="$LWSP_FW_PID"
    LWSP_FW_PID=""
    lwsp_stop_child "$pid" TERM
}

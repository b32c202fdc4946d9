# shellcheck shell=bash
# scripts/lib/wsp_target.sh — the targets that run lwsp's WSP service
# (examples/service: TCP/UDP echo on port 7, the control port 9000) for the
# kernel-side tests in test/firmware, each joined to TAP device TAP in the
# current network namespace:
#
#   qemu IMAGE        the firmware image in QEMU's mps2-an386, its LAN9118
#                     on TAP (scripts/lib/qemu_fw.sh); ready line
#                     "lwsp-firmware: ready"
#   tunnel PROGRAM    lwsp_tunnel_service of the Linux build over a UDP
#                     tunnel; a socat bridge carries the tunnel's datagrams
#                     to and from TAP (one frame per datagram):
#                       socat TUN,tun-type=tap,tun-name=TAP,iff-no-pi,iff-up
#                             UDP-DATAGRAM:127.0.0.1:A,bind=127.0.0.1:B
#                       PROGRAM --local 127.0.0.1:A --remote 127.0.0.1:B
#                     ready line "lwsp-tunnel: ready"
#   wine PROGRAM.exe  the same with lwsp_tunnel_service.exe of the Windows
#                     build under Wine (scripts/wine-run), with a wineserver
#                     of its own started in this namespace first (below)
#
# Source it (after scripts/lib/qemu_fw.sh), then:
#
#   lwsp_target_check KIND TARGET   says why KIND cannot run here and returns
#                                   77 (CTest: skipped); 0 when it can
#   lwsp_target_start KIND TARGET TAP LOG
#                                   starts the target (and its bridge) in the
#                                   current namespace, console to LOG; the
#                                   bridge's messages go to LOG.bridge
#   lwsp_target_wait_ready LOG [SECS]
#                                   waits (polling, at most SECS seconds) for
#                                   the ready line; 1 when the target exits
#                                   or time runs out
#   lwsp_target_alive               whether the target still runs
#   lwsp_target_finish              tunnel: asks the program to stop (SIGTERM:
#                                   it closes its sockets, stops the stack and
#                                   exits 0) and returns its exit status (124
#                                   if it had not ended after 10 s: then it is
#                                   killed); other kinds: 0, nothing done
#   lwsp_target_stop                stops the target, Wine's processes and the
#                                   bridge, and reaps them; harmless when
#                                   nothing runs
#
# Call lwsp_target_start from the shell that will stop the target (not from
# a command substitution): every process runs under `setpriv --pdeathsig
# KILL`, so it dies with that shell even when the shell is killed (a CTest
# timeout).  Callers put lwsp_target_stop in an EXIT trap.
#
# The ports: A=$LWSP_TUNNEL_PORT (default 47001) is the service's end of
# the tunnel, B=A+1 socat's; both on 127.0.0.1 of the namespace, so every
# datagram stays in it.
#
# Wine: sockets of a Windows program under Wine are made by the wineserver
# (Wine's AFD device), in the wineserver's network namespace.  A wineserver
# that some other process started for the same prefix outside this
# namespace would put the program's sockets there.  So the wine target uses
# a prefix of its own ($LWSP_NETNS_WINEPREFIX, default build/wineprefix-netns
# in the repository, created on first use: about half a minute), takes a
# lock on it for the whole run (one namespace at a time), and starts that
# prefix's wineserver itself, in the foreground, inside the namespace: if
# another wineserver held the prefix, ours would exit at once and the run
# fails instead of leaking packets.  lwsp_target_stop ends every process of
# that wineserver (wineserver -k) and the wineserver.

LWSP_TARGET_KIND=""
LWSP_TARGET_PID=""     # the service: QEMU, the program, or Wine running it
LWSP_BRIDGE_PID=""     # socat
LWSP_WINESERVER_PID="" # our wineserver (wine)
LWSP_TARGET_READY=""
_lwsp_target_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_lwsp_wine_lock_fd=""

# The wineserver that goes with scripts/wine-run's Wine.
_lwsp_wineserver() {
    local c
    for c in wineserver64 /usr/lib/wine/wineserver64 wineserver; do
        if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
    done
    return 1
}

_lwsp_wine_available() {
    local c
    for c in wine64 /usr/lib/wine/wine64 wine; do
        command -v "$c" >/dev/null 2>&1 && return 0
    done
    return 1
}

lwsp_target_check() {
    local kind="$1" target="$2"
    case "$kind" in
        qemu) lwsp_fw_check "$target"; return $? ;;
        tunnel|wine) ;;
        *) echo "unknown target kind '$kind' (qemu, tunnel or wine)"; return 2 ;;
    esac
    if [[ $(id -u) -ne 0 ]]; then
        echo "skipped: needs root (a network namespace and a TAP device for the socat bridge)"
        return 77
    fi
    if [[ ! -c /dev/net/tun ]]; then
        echo "skipped: /dev/net/tun is missing (modprobe tun, or pass the device into the container)"
        return 77
    fi
    if ! command -v socat >/dev/null 2>&1; then
        echo "skipped: socat is missing (Debian package socat; scripts/setup installs it)"
        return 77
    fi
    if [[ "$kind" == wine ]] && { ! _lwsp_wine_available || ! _lwsp_wineserver >/dev/null; }; then
        echo "skipped: Wine is missing (Debian package wine64: its loader and wineserver)"
        return 77
    fi
    if [[ -z "$target" || ! -f "$target" ]]; then
        if [[ "$kind" == wine ]]; then
            echo "skipped: '${target}' is not built (the Windows build: cmake -S . -B build/mingw-tunnel -G Ninja -DCMAKE_TOOLCHAIN_FILE=\$PWD/cmake/toolchains/mingw-w64-x86_64.cmake -DLWSP_BUILD_TESTS=OFF -DLWSP_BUILD_BENCH=OFF -DLWSP_INSTALL=OFF && ninja -C build/mingw-tunnel lwsp_tunnel_service)"
        else
            echo "skipped: '${target}' is not built (ninja lwsp_tunnel_service in a Linux build with examples)"
        fi
        return 77
    fi
    return 0
}

# Waits until file $1 shows pattern $2 (grep -E), process $3 still running,
# for at most $4 seconds; 0 when it does.
_lwsp_wait_for_line() {
    local file="$1" pattern="$2" pid="$3" secs="$4"
    local deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        grep -Eq "$pattern" "$file" 2>/dev/null && return 0
        _lwsp_fw_alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}

_lwsp_bridge_start() {
    local tap="$1" log="$2" a="$3" b="$4"
    : >"$log"
    # -b: room for a frame of any MTU; rcvbuf: a window's burst of frames
    # from lwsp (the kernel may cap it at net.core.rmem_max).
    setpriv --pdeathsig KILL socat -d -d -b 65536 \
        "TUN,tun-type=tap,tun-name=$tap,iff-no-pi,iff-up" \
        "UDP-DATAGRAM:127.0.0.1:$a,bind=127.0.0.1:$b,rcvbuf=1048576" </dev/null 2>>"$log" &
    LWSP_BRIDGE_PID=$!
    if ! _lwsp_wait_for_line "$log" "starting data transfer loop" "$LWSP_BRIDGE_PID" 15; then
        echo "the socat bridge did not start:" >&2
        sed 's/^/  | /' "$log" >&2
        return 1
    fi
}

# The wine target's own wineserver for its own prefix, in this namespace.
_lwsp_wineserver_start() {
    local prefix="$1" log="$2" server i
    server="$(_lwsp_wineserver)"
    mkdir -p "$prefix"
    # One namespace at a time per prefix; the lock's descriptor is closed
    # for every child (8>&-), so it ends with this shell.
    exec 8>"$prefix.netns.lock"
    _lwsp_wine_lock_fd=8
    if ! flock -w 600 8; then
        echo "another run held $prefix.netns.lock for 10 minutes" >&2
        return 1
    fi
    WINEPREFIX="$prefix" setpriv --pdeathsig KILL "$server" -f -p 8>&- </dev/null >>"$log" 2>&1 &
    LWSP_WINESERVER_PID=$!
    # Ready once it listens: its working directory is its server directory,
    # which holds the socket.
    for ((i = 0; i < 300; i++)); do
        if ! _lwsp_fw_alive "$LWSP_WINESERVER_PID"; then
            echo "our wineserver for $prefix exited at once: another wineserver (outside this namespace?) holds the prefix; stop it (WINEPREFIX=$prefix wineserver -k)" >&2
            LWSP_WINESERVER_PID=""
            return 1
        fi
        [[ -S "/proc/$LWSP_WINESERVER_PID/cwd/socket" ]] && return 0
        sleep 0.1
    done
    echo "our wineserver did not open its socket within 30 s" >&2
    return 1
}

lwsp_target_start() {
    local kind="$1" target="$2" tap="$3" log="$4"
    local a="${LWSP_TUNNEL_PORT:-47001}"
    local b=$((a + 1))
    LWSP_TARGET_KIND="$kind"
    if [[ "$kind" == qemu ]]; then
        LWSP_TARGET_READY="$LWSP_FW_READY"
        lwsp_fw_start "" "$tap" "$target" "$log"
        LWSP_TARGET_PID="$LWSP_FW_PID"
        return 0
    fi
    LWSP_TARGET_READY="lwsp-tunnel: ready"
    _lwsp_bridge_start "$tap" "$log.bridge" "$a" "$b" || return 1
    : >"$log"
    local -a args=(--local "127.0.0.1:$a" --remote "127.0.0.1:$b")
    if [[ "$kind" == tunnel ]]; then
        setpriv --pdeathsig KILL "$target" "${args[@]}" 8>&- </dev/null >>"$log" 2>&1 &
    else
        local prefix="${LWSP_NETNS_WINEPREFIX:-$_lwsp_target_root/build/wineprefix-netns}"
        _lwsp_wineserver_start "$prefix" "$log" || return 1
        WINEPREFIX="$prefix" setpriv --pdeathsig KILL "$_lwsp_target_root/scripts/wine-run" "$target" "${args[@]}" \
            8>&- </dev/null >>"$log" 2>&1 &
    fi
    LWSP_TARGET_PID=$!
}

lwsp_target_alive() {
    [[ -n "$LWSP_TARGET_PID" ]] && _lwsp_fw_alive "$LWSP_TARGET_PID"
}

lwsp_target_finish() {
    local pid="$LWSP_TARGET_PID" i status=0
    [[ "$LWSP_TARGET_KIND" == tunnel && -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        _lwsp_fw_alive "$pid" || break
        sleep 0.1
    done
    if _lwsp_fw_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        status=124
    else
        wait "$pid" 2>/dev/null || status=$?
    fi
    LWSP_TARGET_PID=""
    return "$status"
}

lwsp_target_wait_ready() {
    local log="$1" secs="${2:-}"
    if [[ -z "$secs" ]]; then
        secs="${LWSP_FW_BOOT_TIMEOUT:-60}"
        [[ "$LWSP_TARGET_KIND" == wine ]] && secs=$((secs * 4))  # a new Wine prefix takes its time
    fi
    [[ -n "$LWSP_TARGET_PID" ]] || return 1
    if _lwsp_wait_for_line "$log" "$LWSP_TARGET_READY" "$LWSP_TARGET_PID" "$secs"; then
        return 0
    fi
    if ! lwsp_target_alive; then
        local status=0
        wait "$LWSP_TARGET_PID" 2>/dev/null || status=$?
        echo "the $LWSP_TARGET_KIND target exited (status $status) before it said '$LWSP_TARGET_READY'" >&2
        LWSP_TARGET_PID=""
    else
        echo "the $LWSP_TARGET_KIND target did not say '$LWSP_TARGET_READY' within ${secs} s" >&2
    fi
    return 1
}

lwsp_target_stop() {
    local pid="$LWSP_TARGET_PID"
    LWSP_TARGET_PID=""
    if [[ "$LWSP_TARGET_KIND" == qemu ]]; then
        LWSP_FW_PID=""
        lwsp_stop_child "$pid" TERM
        return 0
    fi
    lwsp_stop_child "$pid" TERM
    if [[ -n "$LWSP_WINESERVER_PID" ]]; then
        local server prefix="${LWSP_NETNS_WINEPREFIX:-$_lwsp_target_root/build/wineprefix-netns}"
        # Every process of our wineserver (Wine's services too), then it.
        if server="$(_lwsp_wineserver)" && _lwsp_fw_alive "$LWSP_WINESERVER_PID"; then
            WINEPREFIX="$prefix" timeout 10 "$server" -k 8>&- >/dev/null 2>&1 || true
        fi
        lwsp_stop_child "$LWSP_WINESERVER_PID" TERM
        LWSP_WINESERVER_PID=""
    fi
    if [[ -n "$_lwsp_wine_lock_fd" ]]; then
        exec 8>&-
        _lwsp_wine_lock_fd=""
    fi
    lwsp_stop_child "$LWSP_BRIDGE_PID" TERM
    LWSP_BRIDGE_PID=""
}

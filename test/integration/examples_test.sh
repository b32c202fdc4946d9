#!/usr/bin/env bash
# shellcheck disable=SC2015  # "cond && pass || fail" is safe: pass always succeeds
# The four examples (examples/echo, examples/http) against real kernel-side
# peers: socat and curl on the kernel end of TAP device lwsp0.
#
# Usage (as root, from the repository root):
#   scripts/netns-run -- bash test/integration/examples_test.sh BUILD_DIR/examples
# CTest runs it that way (test integration.examples, label integration).
# It refuses to run outside the namespace netns-run makes, so no packet
# leaves it.  Exits 77 (skipped) when socat or curl is missing
# (scripts/setup installs both).
#
# The lwsp programs share the one TAP device, so they run one after another.
# Every background process is killed and waited for on exit; every wait has
# a timeout.
set -uo pipefail

bin="${1:?usage: examples_test.sh DIR_WITH_THE_EXAMPLE_BINARIES}"
for tool in socat curl timeout ss; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "examples_test: skipped: '$tool' is missing (scripts/setup installs socat and curl)"
        exit 77
    fi
done
if [[ -z "${LWSP_NETNS:-}" || -z "${LWSP_TAP:-}" ]]; then
    echo "examples_test: run me through scripts/netns-run (a private namespace with TAP device lwsp0)" >&2
    exit 2
fi
for p in lwsp_echo_server lwsp_echo_client lwsp_http_server lwsp_http_client; do
    [[ -x "$bin/$p" ]] || { echo "examples_test: $bin/$p is missing (build the examples)" >&2; exit 2; }
done

tmp="$(mktemp -d)"
pids=()
failures=0

stop() {   # pid: TERM, up to 5 s, then KILL; always reaped
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
cleanup() {
    local pid
    for pid in "${pids[@]}"; do stop "$pid"; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# Starts a background process, remembers its pid in $! and in pids.
background() { "$@" & pids+=("$!"); }

# Waits (at most 10 s) until file $1 contains text $2.
wait_for_text() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Waits (at most 10 s) until a kernel-side TCP listener on port $1 exists.
wait_for_listener() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -n "$(ss -H -ltn "sport = :$1")" ]] && return 0
        sleep 0.1
    done
    return 1
}

# Forgets a reaped pid, so that cleanup never signals a reused one.
forget() {
    local keep=() p
    for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    pids=("${keep[@]}")
}

# Waits (at most $2 s) for background process $1 to exit; its status in $?.
wait_exit() {
    local pid="$1" i rc
    for ((i = 0; i < $2 * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            rc=$?
            forget "$pid"
            return $rc
        fi
        sleep 0.1
    done
    return 124
}

# ---------------------------------------------------------------------------
echo "== lwsp_echo_server, kernel client: socat =="
for family in 4 6; do
    if [[ $family == 4 ]]; then flag=""; addr="192.0.2.1"; else flag="--v6"; addr="[2001:db8::1]"; fi
    log="$tmp/echo_server$family.log"
    background "$bin/lwsp_echo_server" --port 7 --count 2 $flag >"$log" 2>&1
    server=$!
    if ! wait_for_text "$log" "listening"; then
        fail "IPv$family: the server did not start: $(cat "$log")"
        continue
    fi
    got="$(printf 'hello lwsp\n' | timeout 15 socat -t 10 - "TCP$family:$addr:7" 2>&1)"
    [[ "$got" == "hello lwsp" ]] && pass "IPv$family: a line comes back" || fail "IPv$family: sent 'hello lwsp', got '$got'"

    head -c 1000000 /dev/urandom >"$tmp/big"
    timeout 30 socat -t 20 - "TCP$family:$addr:7" <"$tmp/big" >"$tmp/big.echo" 2>"$tmp/socat.err"
    cmp -s "$tmp/big" "$tmp/big.echo" && pass "IPv$family: 1 MB of random bytes come back intact" \
        || fail "IPv$family: 1 MB echo differs ($(wc -c <"$tmp/big.echo") bytes back; $(cat "$tmp/socat.err"))"

    wait_exit "$server" 10
    rc=$?
    [[ $rc == 0 ]] && pass "IPv$family: the server exits 0 after --count 2" || fail "IPv$family: server exit status $rc"
    lines="$(grep -c '^connection ' "$log")"
    [[ "$lines" == 2 ]] && grep -q "1000000 bytes echoed, closed by the client" "$log" \
        && pass "IPv$family: one line per connection" || fail "IPv$family: server output: $(cat "$log")"
done

# ---------------------------------------------------------------------------
echo "== lwsp_echo_client, kernel server: socat EXEC:cat =="
background socat TCP4-LISTEN:7,bind=192.0.2.2,reuseaddr,fork EXEC:cat
background socat "TCP6-LISTEN:7,bind=[2001:db8::2],reuseaddr,fork" EXEC:cat
background socat TCP4-LISTEN:9,bind=192.0.2.2,reuseaddr,fork "EXEC:tr a-z A-Z"
wait_for_listener 7 && wait_for_listener 9 || fail "the kernel-side socat listeners did not start"
for host in 192.0.2.2 2001:db8::2; do
    out="$(timeout 30 "$bin/lwsp_echo_client" "$host" 7 "hello, kernel" 2>"$tmp/client.err")"
    rc=$?
    [[ $rc == 0 && "$out" == "hello, kernel" ]] && pass "$host: echo matches, exit 0" \
        || fail "$host: exit $rc, stdout '$out', stderr $(cat "$tmp/client.err")"
done
out="$(timeout 30 "$bin/lwsp_echo_client" 192.0.2.2 9 "hello, kernel" 2>"$tmp/client.err")"
rc=$?
[[ $rc == 1 && "$out" == "HELLO, KERNEL" ]] && pass "a wrong echo ('$out') gives exit 1" \
    || fail "wrong echo: exit $rc, stdout '$out', stderr $(cat "$tmp/client.err")"
timeout 30 "$bin/lwsp_echo_client" 192.0.2.2 8 >/dev/null 2>"$tmp/client.err"
rc=$?
[[ $rc == 1 ]] && grep -q WSAECONNREFUSED "$tmp/client.err" && pass "a closed port: WSAECONNREFUSED, exit 1" \
    || fail "closed port: exit $rc, stderr $(cat "$tmp/client.err")"
for pid in "${pids[@]}"; do stop "$pid"; done
pids=()

# ---------------------------------------------------------------------------
echo "== lwsp_http_server, kernel client: curl =="
for family in 4 6; do
    if [[ $family == 4 ]]; then flag=""; url="http://192.0.2.1:8080"; else flag="--v6"; url="http://[2001:db8::1]:8080"; fi
    log="$tmp/http_server$family.log"
    background "$bin/lwsp_http_server" --port 8080 --count 3 $flag >"$log" 2>&1
    server=$!
    if ! wait_for_text "$log" "listening"; then
        fail "IPv$family: the server did not start: $(cat "$log")"
        continue
    fi
    n="$(timeout 30 curl -sg --max-time 20 "$url/bytes/100000" | wc -c)"
    [[ "$n" == 100000 ]] && pass "IPv$family: /bytes/100000 gives 100000 bytes" || fail "IPv$family: /bytes/100000 gave $n bytes"
    page="$(timeout 30 curl -sg --max-time 20 "$url/")"
    [[ "$page" == *"Hello from lwsp"* ]] && pass "IPv$family: / has the page text" || fail "IPv$family: / gave '$page'"
    code="$(timeout 30 curl -sg --max-time 20 -o /dev/null -w '%{http_code}' "$url/nope")"
    [[ "$code" == 404 ]] && pass "IPv$family: /nope gives 404" || fail "IPv$family: /nope gave '$code'"
    wait_exit "$server" 10
    rc=$?
    [[ $rc == 0 ]] && pass "IPv$family: the server exits 0 after --count 3" || fail "IPv$family: server exit status $rc"
    [[ "$(grep -c '" [0-9][0-9][0-9] ' "$log")" == 3 ]] && pass "IPv$family: one log line per request" \
        || fail "IPv$family: server output: $(cat "$log")"
done
# The body is the pattern abc...z repeated.
background "$bin/lwsp_http_server" --port 8080 --count 1 >"$tmp/http_server.log" 2>&1
server=$!
if wait_for_text "$tmp/http_server.log" "listening"; then
    timeout 30 curl -s --max-time 20 -o "$tmp/body" http://192.0.2.1:8080/bytes/70000
    yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c 70000 >"$tmp/expected"
    cmp -s "$tmp/body" "$tmp/expected" && pass "/bytes/70000 is the pattern, byte for byte" \
        || fail "/bytes/70000 differs from the pattern"
    wait_exit "$server" 10 || fail "the server did not exit"
else
    fail "the server did not start: $(cat "$tmp/http_server.log")"
fi

# ---------------------------------------------------------------------------
echo "== lwsp_http_client, kernel server: socat =="
# A kernel-side HTTP server on port $1 (IPv4 and IPv6) whose every answer is
# printf "$2": it reads the request head up to its blank line into
# $tmp/request first.  (The shell code lives in a file: socat's address
# parser eats quotes and backslashes.)
cat >"$tmp/respond.sh" <<'EOF_RESPOND'
sed -u '/^\r\{0,1\}$/q' >"$1"
cat "$2"
EOF_RESPOND
respond() {   # port, response printf format
    # shellcheck disable=SC2059  # $2 is the format: it holds the \r\n escapes
    printf "$2" >"$tmp/response$1"
    background socat "TCP6-LISTEN:$1,ipv6only=0,reuseaddr,fork" \
        "SYSTEM:sh $tmp/respond.sh $tmp/request $tmp/response$1"
}
respond 8000 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'
respond 8001 'HTTP/1.0 404 Not Found\r\nContent-Length: 4\r\n\r\nnope'
respond 8002 'HTTP/1.0 200 OK\r\nContent-Length: 50\r\n\r\nshort'
wait_for_listener 8000 && wait_for_listener 8001 && wait_for_listener 8002 \
    || fail "the kernel-side socat listeners did not start"
for url in http://192.0.2.2:8000/hello "http://[2001:db8::2]:8000/hello"; do
    body="$(timeout 30 "$bin/lwsp_http_client" "$url" 2>"$tmp/client.err")"
    rc=$?
    [[ $rc == 0 && "$body" == hello ]] && grep -q "^HTTP/1.0 200 OK" "$tmp/client.err" \
        && grep -q "(body: 5 bytes)" "$tmp/client.err" && pass "$url: 200, body 'hello', exit 0" \
        || fail "$url: exit $rc, body '$body', stderr $(cat "$tmp/client.err")"
    grep -q "^GET /hello HTTP/1.0" "$tmp/request" && pass "$url: the server saw 'GET /hello HTTP/1.0'" \
        || fail "$url: request was $(cat "$tmp/request")"
done
timeout 30 "$bin/lwsp_http_client" http://192.0.2.2:8001/ >/dev/null 2>"$tmp/client.err"
rc=$?
[[ $rc == 1 ]] && grep -q "404 Not Found" "$tmp/client.err" && pass "404: exit 1" \
    || fail "404: exit $rc, stderr $(cat "$tmp/client.err")"
timeout 30 "$bin/lwsp_http_client" http://192.0.2.2:8002/ >/dev/null 2>"$tmp/client.err"
rc=$?
[[ $rc == 1 ]] && grep -q "Content-Length 50 but 5 body bytes" "$tmp/client.err" \
    && pass "a body shorter than Content-Length: exit 1" \
    || fail "short body: exit $rc, stderr $(cat "$tmp/client.err")"

echo
if ((failures)); then
    echo "examples_test: $failures check(s) failed"
    exit 1
fi
echo "examples_test: all checks passed"

# scripts/lib/netns.sh — private network namespaces for lwsp's demo and
# integration tests.  Source it, then:
#
#   lwsp_netns_up NS TAP [MTU]   create namespace NS holding TAP device TAP,
#                                kernel side 192.0.2.2/24 and 2001:db8::2/64
#                                (lwsp takes .1 / ::1), loopback up
#   lwsp_netns_down NS           delete it (and everything in it)
#
# The namespace has no route to anything but its own TAP device and
# loopback, so every packet stays inside it.  Callers register
# lwsp_netns_down in an EXIT trap so that a failure still cleans up.

lwsp_netns_up() {
    local ns="$1" tap="$2" mtu="${3:-1500}"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev "$tap" mode tap
    ip -n "$ns" link set "$tap" mtu "$mtu"
    ip -n "$ns" addr add 192.0.2.2/24 dev "$tap"
    ip -n "$ns" addr add 2001:db8::2/64 dev "$tap" nodad
    ip -n "$ns" link set "$tap" up
}

lwsp_netns_down() {
    local ns="$1"
    ip netns del "$ns" 2>/dev/null || true
}

lwsp_require_root_and_tun() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "needs root: network namespaces and TAP devices require CAP_NET_ADMIN" >&2
        return 1
    fi
    if [[ ! -c /dev/net/tun ]]; then
        echo "/dev/net/tun is missing: load the tun module (modprobe tun) or pass the device into the container" >&2
        return 1
    fi
}

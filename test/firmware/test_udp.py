#!/usr/bin/env python3
"""UDP both ways: the firmware's echo (port 7) over IPv4 and IPv6 at a few
sizes up to a full 1500-byte frame, and a datagram the firmware sends
(control command `udp`) arriving at a kernel UDP socket.  A datagram may be
lost, so each is sent up to 5 times (the try is reported); every one must
come back.

Usage (inside the namespace, firmware running): test_udp.py
"""
from fwcheck import fw_peer, run


def body(c):
    for addr, top in ((fw_peer.FW4, 1472), (fw_peer.FW6, 1452)):
        for size in (1, 64, 512, top):
            payload = bytes((i * 7 + size) & 0xFF for i in range(size))
            got, tries, src = fw_peer.udp_echo(addr, payload)
            how = "try %d" % tries
            if got is None:
                how = "no echo in %d tries" % tries
            elif got != payload:
                how += ", %d different bytes came back" % len(got)
            c.check(got == payload and src[0] == addr and src[1] == fw_peer.ECHO_PORT,
                    "echo of %4d bytes from [%s]:7 (%s)" % (size, addr, how))
    text = "hello-kernel-from-firmware"
    reply, data, src = fw_peer.udp_from_firmware(7005, text)
    c.check(reply == "OK", "the firmware replied OK to 'udp 7005 %s' (%r)" % (text, reply))
    c.check(data == text.encode(), "the kernel's UDP socket on 192.0.2.2:7005 received %r" % data)
    c.check(src is not None and src[0] == fw_peer.FW4, "from 192.0.2.1 (%s)" % (src,))


run("udp", body)

#!/usr/bin/env python3
"""TCP echo through the firmware's echo server (port 7): BYTES bytes of a
pseudo-random pattern sent from one thread while this one reads the echo
back concurrently and compares every byte; then a half-close, and the
firmware's FIN must follow.  The throughput is reported, not checked.

Usage (inside the namespace, firmware running): test_echo.py v4|v6 BYTES
"""
import random
import sys

from fwcheck import fw_peer, run

family, nbytes = sys.argv[1], int(sys.argv[2])


def body(c):
    addr = fw_peer.FW6 if family == "v6" else fw_peer.FW4
    data = random.Random(nbytes).randbytes(nbytes)
    r = fw_peer.tcp_echo(addr, data)
    c.info("sent %d, received %d bytes in %.2f s: %.2f MiB/s each way (throughput: reported, not checked)"
           % (r.sent, r.received, r.seconds, r.rate()))
    c.check(r.error is None, "transfer to [%s]:7 completed%s" % (addr, "" if r.error is None else ": " + r.error))
    c.check(r.sent == nbytes, "all %d bytes sent (%d)" % (nbytes, r.sent))
    c.check(r.mismatch_at is None and r.received == nbytes,
            "all %d bytes echoed intact (%d received%s)"
            % (nbytes, r.received, "" if r.mismatch_at is None
               else ", first wrong byte at offset %d" % r.mismatch_at))
    c.check(r.eof, "the firmware closed (EOF) after the kernel's FIN")


run("tcp echo %s %d bytes" % (family, nbytes), body)

#!/usr/bin/env python3
"""ICMP echo: the kernel's ping to the firmware, IPv4 and IPv6, small and
near-MTU payloads; every request must be answered.  Exits 77 (skipped)
when ping is missing (Debian package iputils-ping).

Usage (inside the namespace, firmware running): test_icmp.py
"""
import re
import shutil
import sys

from fwcheck import fw_peer, run

if not shutil.which("ping"):
    print("icmp: skipped: ping is missing (Debian package iputils-ping)")
    sys.exit(77)


def body(c):
    for addr in (fw_peer.FW4, fw_peer.FW6):
        for size in (None, 1400):
            rc, out = fw_peer.ping(addr, 3, size)
            m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
            got = "%s of %s answered" % (m.group(2), m.group(1)) if m else "no summary from ping"
            c.check(rc == 0 and m is not None and m.group(1) == m.group(2) == "3",
                    "ping%s -c 3%s %s: %s" % (" -6" if ":" in addr else "",
                                             " -s %d" % size if size else "", addr, got))
            if rc != 0 or not m:
                for line in out.splitlines():
                    c.info(line)


run("icmp", body)

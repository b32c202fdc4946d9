#!/usr/bin/env python3
"""The close table on the wire, the firmware as the WSP client and the
kernel as the peer (through the firmware's control server, 192.0.2.1:9000):

  graceful  SO_DONTLINGER close: the kernel reads every byte, then EOF
  abort     SO_LINGER {1,0}: the kernel's recv fails ECONNRESET (what
            arrived before the RST is an intact prefix)
  linger    SO_LINGER {1,2} while the kernel reads nothing: the blocking
            close returns 0 after >= 2000 ms, the RST resets the kernel's
            connection (TCP state CLOSE before the kernel reads or sends
            anything), and the kernel's recv then fails ECONNRESET
  refused   a blocking connect to a port nobody listens on: ERR 10061
            (WSAECONNREFUSED)

Usage (inside the namespace, firmware running): test_close.py CASE
"""
import errno
import sys

from fwcheck import fw_peer, run

case = sys.argv[1]


def graceful_or_abort(c):
    port, n = (7001, 1048576) if case == "graceful" else (7002, 262144)
    reply, rx, took = fw_peer.close_run(case, port, n)
    c.info("reply %r after %.2f s; the kernel read %d bytes from %s, then %s"
           % (reply, took, len(rx.data), rx.peer, rx.ending()))
    c.check(reply == "OK", "the firmware replied OK to '%s %d %d' (%r)" % (case, port, n, reply))
    c.check(rx.peer is not None and rx.peer[0] == fw_peer.FW4, "the firmware connected from 192.0.2.1")
    c.check(bytes(rx.data) == fw_peer.close_pattern(len(rx.data)),
            "the bytes that arrived are the pattern i % 251")
    if case == "graceful":
        c.check(len(rx.data) == n, "all %d bytes arrived (%d)" % (n, len(rx.data)))
        c.check(rx.eof, "then EOF: the firmware's FIN (%s)" % rx.ending())
    else:
        c.check(len(rx.data) <= n, "no more than %d bytes arrived (%d)" % (n, len(rx.data)))
        c.check(rx.error == errno.ECONNRESET, "then ECONNRESET: the firmware's RST (%s)" % rx.ending())


def linger(c):
    port, secs = 7003, 2
    reply, rx, took = fw_peer.close_run("linger", port, secs, timeout=secs + 60.0)
    parsed = fw_peer.parse_linger_reply(reply)
    c.info("reply %r after %.2f s; kernel receive buffer %d bytes; then it read %d bytes, then %s"
           % (reply, took, rx.rcvbuf, len(rx.data), rx.ending()))
    c.check(parsed is not None, "the reply is 'OK <ret> <lpErrno> <elapsed ms>' (%r)" % reply)
    if parsed:
        ret, err, ms = parsed
        c.check(ret == 0, "WSPCloseSocket returned 0 (%d, lpErrno %d)" % (ret, err))
        c.check(ms >= secs * 1000, "the close blocked until the linger deadline: %d ms >= %d ms"
                % (ms, secs * 1000))
        c.check(ms < (secs + 10) * 1000, "and not much longer: %d ms < %d ms" % (ms, (secs + 10) * 1000))
    c.check(took >= secs, "the command took at least %d s on the kernel's clock (%.2f s)" % (secs, took))
    c.check(len(rx.data) > 0, "data had arrived and filled the kernel's window (%d bytes)" % len(rx.data))
    # The RST at the deadline must reset the kernel's connection by itself:
    # checked before the kernel reads (a read opens its window, and the
    # window update would draw a second RST from the firmware).
    c.check(rx.state_at_release == fw_peer.TCP_CLOSE,
            "the RST at the deadline reset the kernel's connection before it read or sent anything "
            "(TCP state %s%s)" % (fw_peer.TCP_STATES.get(rx.state_at_release, rx.state_at_release),
                                  "" if rx.state_at_release == fw_peer.TCP_CLOSE
                                  else ", still, %.0f s after the reply" % rx.reset_wait))
    c.check(rx.error == errno.ECONNRESET, "the kernel's recv failed ECONNRESET: the RST (%s)" % rx.ending())


def refused(c):
    port = 7004  # nobody listens on it in this namespace
    reply = fw_peer.control("connect %d" % port, timeout=60.0)
    c.check(reply == "ERR %d" % fw_peer.WSAECONNREFUSED,
            "connect to 192.0.2.2:%d failed WSAECONNREFUSED: reply %r (want 'ERR 10061')" % (port, reply))


cases = {"graceful": graceful_or_abort, "abort": graceful_or_abort, "linger": linger, "refused": refused}
if case not in cases:
    sys.exit("unknown case %r (one of %s)" % (case, ", ".join(cases)))
run("close %s" % case, cases[case])

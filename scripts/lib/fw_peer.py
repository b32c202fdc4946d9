#!/usr/bin/env python3
"""The Linux kernel's side of the lwsp firmware in QEMU (examples/firmware).

Shared by scripts/firmware-demo (through the command line below) and the
firmware integration tests (test/firmware/*.py import it).  Runs inside the
network namespace that holds TAP device lwsp0: the kernel is 192.0.2.2 and
2001:db8::2, the firmware 192.0.2.1 and 2001:db8::1.  Standard library only.

The firmware serves TCP and UDP echo on port 7 (IPv4 and IPv6), ICMP echo,
and a control server on TCP 192.0.2.1:9000: one command line in, one reply
line out, after which it has acted as a blocking WSP client against the
kernel at 192.0.2.2:
  graceful PORT BYTES   connect, send BYTES bytes (byte i = i % 251), close
                        gracefully (FIN)                       -> "OK"
  abort PORT BYTES      the same, then SO_LINGER {1,0} and close (RST) -> "OK"
  linger PORT SECONDS   connect, fill the send buffer while the kernel reads
                        nothing, blocking close with SO_LINGER {1,SECONDS}:
                        RST at the deadline  -> "OK <ret> <lpErrno> <ms>"
  connect PORT          blocking connect to a closed port -> "ERR 10061"
  udp PORT TEXT         one datagram to 192.0.2.2:PORT     -> "OK"
  (failures)                                               -> "ERR <lpErrno>"

Every wait is bounded: socket timeouts, select(), or a condition polled
until a deadline; nothing sleeps in place of a condition.  Command line (as the demo uses it):
  fw_peer.py ping | echo-tcp [--v6] [--bytes N] | echo-udp [--v6]
           | graceful PORT BYTES | abort PORT BYTES | linger PORT SECONDS
           | connect PORT | udp PORT TEXT | mark PCAP | summary PCAP [PORT=LABEL ...]
"""

import errno
import os
import random
import select
import socket
import subprocess
import sys
import threading
import time

FW4, FW6 = "192.0.2.1", "2001:db8::1"
KERNEL4, KERNEL6 = "192.0.2.2", "2001:db8::2"
ECHO_PORT = 7
CONTROL_PORT = 9000
WSAECONNREFUSED = 10061


def say(*args):
    print(*args, flush=True)


def close_pattern(n):
    """The bytes the firmware's graceful/abort commands send: byte i = i % 251."""
    period = bytes(range(251))
    return (period * (n // 251 + 1))[:n]


def errname(err):
    if not err:
        return "none"
    return "%s (%s)" % (errno.errorcode.get(err, str(err)), os.strerror(err))


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# --- the control server ------------------------------------------------------

def control(command, timeout=60.0):
    """Sends one command line to the firmware's control server and returns
    its reply line (without the line end).  Raises on a timeout or when the
    firmware closes without a full line."""
    try:
        with socket.create_connection((FW4, CONTROL_PORT), timeout=15.0) as s:
            s.settimeout(timeout)
            s.sendall(command.encode() + b"\n")
            reply = b""
            while b"\n" not in reply:
                chunk = s.recv(256)
                if not chunk:
                    if reply:
                        break
                    raise ConnectionError("the control server closed without a reply")
                reply += chunk
            return reply.split(b"\n", 1)[0].decode(errors="replace").strip()
    except socket.timeout:
        raise TimeoutError("control command %r: no reply within %.0f s" % (command, timeout)) from None
    except OSError as e:
        raise ConnectionError("control command %r to %s:%d: %s" % (command, FW4, CONTROL_PORT, e)) from None


# --- the kernel's view of a connection -------------------------------------------

TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING"}
TCP_CLOSE = 7


def tcp_state(sock):
    """The kernel's TCP state of a connected socket (TCP_INFO's tcpi_state)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def wait_for_tcp_state(sock, want, timeout):
    """Polls the socket's TCP state (it sends nothing) until it is `want` or
    `timeout` s have passed; returns the last state seen."""
    deadline = time.monotonic() + timeout
    while True:
        st = tcp_state(sock)
        if st == want or time.monotonic() >= deadline:
            return st
        time.sleep(0.02)


# --- a kernel listener that reads one connection ------------------------------

class Receiver:
    """Listens on 192.0.2.2:port and, in a thread, accepts one connection and
    reads it to its end: EOF (the peer's FIN) or an error (ECONNRESET after a
    RST).  With hold=True it accepts but reads nothing until release()."""

    def __init__(self, port, rcvbuf=0, hold=False, accept_timeout=60.0, read_timeout=60.0):
        self.port = port
        self.data = bytearray()
        self.eof = False
        self.error = 0
        self.timed_out = False
        self.peer = None
        self.rcvbuf = 0
        # hold=True: the kernel's TCP state when released (before it read or
        # sent anything), waited for up to reset_wait s to become CLOSE.
        self.state_at_release = None
        self.reset_wait = 3.0
        self._accept_timeout = accept_timeout
        self._read_timeout = read_timeout
        self._hold = hold
        self._go = threading.Event()
        if not hold:
            self._go.set()
        self._ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            # Before listen(): the accepted socket inherits it, and the window
            # the kernel offers in its SYN-ACK follows from it.
            self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._ls.bind((KERNEL4, port))
        self._ls.listen(4)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._ls.settimeout(self._accept_timeout)
            try:
                conn, self.peer = self._ls.accept()
            except socket.timeout:
                self.timed_out = True
                return
            with conn:
                self.rcvbuf = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                if not self._go.wait(self._accept_timeout + self._read_timeout):
                    self.timed_out = True
                    return
                if self._hold:
                    self.state_at_release = wait_for_tcp_state(conn, TCP_CLOSE, self.reset_wait)
                conn.settimeout(self._read_timeout)
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except socket.timeout:
                        self.timed_out = True
                        return
                    except OSError as e:
                        self.error = e.errno
                        return
                    if not chunk:
                        self.eof = True
                        return
                    self.data += chunk
        finally:
            self._ls.close()

    def release(self):
        self._go.set()

    def join(self, timeout):
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def ending(self):
        if self.timed_out:
            return "timed out"
        if self.eof:
            return "EOF"
        if self.error:
            return errname(self.error)
        return "not finished"


def close_run(kind, port, amount, timeout=120.0):
    """One row of the close table: starts a kernel listener on `port`, asks
    the firmware to connect to it and close `kind`ly (graceful, abort:
    amount = bytes; linger: amount = seconds) and returns (reply, receiver,
    seconds the command took).  For linger the kernel reads nothing until
    the reply has come, so the firmware's send buffer stays full."""
    hold = kind == "linger"
    rx = Receiver(port, rcvbuf=4096 if hold else 0, hold=hold, read_timeout=30.0)
    start = time.monotonic()
    try:
        reply = control("%s %d %d" % (kind, port, amount), timeout=timeout)
    finally:
        took = time.monotonic() - start
        rx.release()
    # After a failure reply the firmware may never have connected: no need
    # to wait out the accept timeout.
    rx.join(60.0 if reply.startswith("OK") else 5.0)
    return reply, rx, took


def parse_linger_reply(reply):
    """'OK <ret> <lpErrno> <elapsed ms>' -> (ret, err, ms), None otherwise."""
    f = reply.split()
    if len(f) != 4 or f[0] != "OK":
        return None
    try:
        return int(f[1]), int(f[2]), int(f[3])
    except ValueError:
        return None


# --- echo ----------------------------------------------------------------------

class EchoResult:
    def __init__(self):
        self.sent = 0
        self.received = 0
        self.mismatch_at = None   # offset of the first wrong byte
        self.eof = False          # the firmware closed after our FIN
        self.error = None         # what went wrong, as text
        self.seconds = 0.0

    @property
    def ok(self):
        return self.error is None and self.mismatch_at is None and self.eof

    def rate(self):
        mib = self.received / (1024.0 * 1024.0)
        return mib / self.seconds if self.seconds > 0 else 0.0


def tcp_echo(addr, data, progress_timeout=30.0, chunk=16384):
    """Sends `data` to the echo server at addr:7 from one thread while
    reading the echo back on this one and comparing it byte for byte, then
    half-closes and expects the firmware's FIN.  Each send/recv waits at
    most progress_timeout for progress."""
    r = EchoResult()
    fam = family_of(addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(15.0)
    try:
        s.connect((addr, ECHO_PORT))
    except OSError as e:
        s.close()
        r.error = "connect to [%s]:%d: %s" % (addr, ECHO_PORT, e)
        return r
    s.settimeout(progress_timeout)
    send_error = []

    def sender():
        view = memoryview(data)
        try:
            while r.sent < len(data):
                r.sent += s.send(view[r.sent:r.sent + chunk])
            s.shutdown(socket.SHUT_WR)
        except OSError as e:  # socket.timeout included
            send_error.append("send failed after %d bytes: %s" % (r.sent, e))

    start = time.monotonic()
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    buf = bytearray(65536)
    try:
        while r.received < len(data):
            n = s.recv_into(buf)
            if n == 0:
                r.error = "the firmware closed after %d of %d bytes" % (r.received, len(data))
                break
            got = bytes(buf[:n])
            want = data[r.received:r.received + n]
            if got != want:
                k = next(i for i in range(min(len(got), len(want)) + 1)
                         if i == len(want) or i == len(got) or got[i] != want[i])
                r.mismatch_at = r.received + k
                r.received += n
                break
            r.received += n
        r.seconds = time.monotonic() - start
        if r.error is None and r.mismatch_at is None:
            s.settimeout(15.0)
            extra = s.recv(65536)
            if extra:
                r.error = "%d bytes more than were sent" % len(extra)
            else:
                r.eof = True
    except socket.timeout:
        r.seconds = time.monotonic() - start
        r.error = "no progress for %.0f s after %d bytes sent, %d received" % (
            progress_timeout, r.sent, r.received)
    except OSError as e:
        r.seconds = time.monotonic() - start
        r.error = "recv failed after %d bytes: %s" % (r.received, e)
    finally:
        # Wakes a sender blocked in send() when the reader gave up.
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        t.join(progress_timeout + 5.0)
        s.close()
    if send_error and r.error is None:
        r.error = send_error[0]
    return r


def udp_echo(addr, payload, tries=5, wait=2.0):
    """Sends one datagram to addr:7 and waits for its echo; a datagram may be
    lost (the first one while the neighbour entry is resolved), so it is sent
    again, up to `tries` times.  Returns (echo or None, tries used, source)."""
    fam = family_of(addr)
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((KERNEL6 if fam == socket.AF_INET6 else KERNEL4, 0))
        for attempt in range(1, tries + 1):
            s.sendto(payload, (addr, ECHO_PORT))
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([s], [], [], left)[0]:
                    break
                data, src = s.recvfrom(65536)
                return data, attempt, src  # the caller compares it with payload
    return None, tries, None


def udp_from_firmware(port, text, timeout=10.0):
    """Binds 192.0.2.2:port, asks the firmware to send `text` there and
    returns (reply, datagram or None, source)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((KERNEL4, port))
        reply = control("udp %d %s" % (port, text), timeout=30.0)
        if not select.select([s], [], [], timeout)[0]:
            return reply, None, None
        data, src = s.recvfrom(65536)
        return reply, data, src


def ping(addr, count=3, size=None):
    """Runs the system's ping; returns (exit status, output)."""
    cmd = ["ping", "-n", "-c", str(count), "-W", "5", "-i", "0.2"]
    if ":" in addr:
        cmd.insert(1, "-6")
    if size is not None:
        cmd += ["-s", str(size)]
    cmd.append(addr)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    return p.returncode, p.stdout


# --- what crossed the wire ------------------------------------------------------

def _flags(v):
    names = [(0x02, "SYN"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK")]
    return ",".join(n for bit, n in names if v & bit)


def wire_summary(pcap, labels):
    """Reads a capture with tshark and returns lines: every FIN and RST (the
    control server's own connections left out), then one line per TCP
    connection saying what ended it, then the ICMP echo count.
    labels: {port: name} for the servers' ports."""
    fields = ["frame.time_relative", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
              "tcp.dstport", "tcp.flags", "tcp.stream", "tcp.len"]
    cmd = ["tshark", "-n", "-r", pcap, "-Y", "tcp", "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         timeout=120).stdout
    labels = dict(labels)
    labels.setdefault(ECHO_PORT, "echo")
    labels.setdefault(CONTROL_PORT, "control")

    def who(ip):
        return "firmware" if ip in (FW4, FW6) else "kernel"

    def ep(ip, port):
        return "[%s]:%s" % (ip, port) if ":" in ip else "%s:%s" % (ip, port)

    segments, streams, last_of = [], {}, {}
    for row in out.splitlines():
        c = row.split("\t")
        if len(c) < len(fields):
            continue
        t, src4, src6, sport, dst4, dst6, dport, flags, stream, tlen = c[:10]
        src, dst, t, fl = src4 or src6, dst4 or dst6, float(t), int(flags, 16)
        st = streams.setdefault(stream, {"client": None, "server": None, "opened": t,
                                         "bytes": {}, "ends": []})
        if fl & 0x02 and not fl & 0x10:
            st["client"], st["server"], st["opened"] = (src, sport), (dst, dport), t
        st["bytes"][(src, sport)] = st["bytes"].get((src, sport), 0) + int(tlen or 0)
        if fl & 0x05:
            kind = "%s from %s" % ("RST" if fl & 0x04 else "FIN", who(src))
            if st["ends"] and st["ends"][-1][0] == kind:
                st["ends"][-1][2] += 1  # more of the same: answers to segments in flight
            else:
                st["ends"].append([kind, t, 0])
            what = "%-8s %s > %s [%s]" % (who(src), ep(src, sport), ep(dst, dport), _flags(fl))
            prev = last_of.get(stream)
            if prev is not None and prev[1] == what:
                prev[3] += 1  # the same again (answers to segments in flight)
                prev[4] = t
            else:
                last_of[stream] = [stream, what, t, 0, t]
                segments.append(last_of[stream])
    lines = ["  FIN and RST segments (the control connections left out):"]
    for stream, what, t, more, last in segments:
        server = streams[stream]["server"]
        if not server or int(server[1]) != CONTROL_PORT:
            lines.append("    %8.3f s  %s%s" % (t, what, " (+%d more, the last at %.3f s)" % (more, last)
                                                  if more else ""))
    lines.append("")
    lines.append("  each TCP connection (client > server: bytes each way; what ended it):")
    for key in sorted(streams, key=int):
        st = streams[key]
        if not st["client"]:
            continue
        cl, sv = st["client"], st["server"]
        lines.append("    %-9s %s > %s  %d > / %d <  opened at %.3f s; %s" % (
            labels.get(int(sv[1]), "port %s" % sv[1]), ep(*cl), ep(*sv),
            st["bytes"].get(cl, 0), st["bytes"].get(sv, 0), st["opened"],
            "; ".join("%s at %.3f s%s" % (k, at, " (+%d more)" % more if more else "")
                      for k, at, more in st["ends"]) or "still open"))
    icmp = subprocess.run(["tshark", "-n", "-r", pcap, "-Y",
                           "icmp.type==8 || icmp.type==0 || icmpv6.type==128 || icmpv6.type==129",
                           "-T", "fields", "-e", "icmp.type", "-e", "icmpv6.type"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          timeout=120).stdout.split()
    udp = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "udp && !(udp.port==%d)" % MARK_PORT,
                          "-T", "fields", "-e", "ip.src",
                          "-e", "ipv6.src"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         timeout=120).stdout.split()
    from_fw = sum(1 for a in udp if a in (FW4, FW6))
    lines.append("")
    lines.append("  ICMP echo: %d requests, %d replies (IPv4); %d requests, %d replies (IPv6)" % (
        icmp.count("8"), icmp.count("0"), icmp.count("128"), icmp.count("129")))
    lines.append("  UDP: %d datagrams from the kernel, %d from the firmware" % (len(udp) - from_fw, from_fw))
    return lines


MARK_PORT = 9  # discard: the marker datagram that ends a capture


def mark_capture(pcap, timeout=15.0):
    """Sends a marker datagram to the firmware's discard port until the
    capture file shows it (a packet capture writes what it has seen in
    blocks, so the last packets reach the file some time after they crossed
    the wire); True once it is there."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while time.monotonic() < deadline:
            s.sendto(b"lwsp firmware demo: end of capture", (FW4, MARK_PORT))
            seen = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "udp.dstport==%d" % MARK_PORT],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  timeout=60).stdout.strip()
            if seen:
                return True
            time.sleep(0.3)
    return False


# --- command line (the demo) ------------------------------------------------------

def _main(argv):
    if not argv:
        say(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "ping":
        rc = 0
        for addr in (FW4, FW6):
            st, out = ping(addr, 3)
            for line in out.splitlines():
                if "packets transmitted" in line or "bytes from" in line:
                    say("  " + line)
            rc |= st
        return 1 if rc else 0
    if cmd == "echo-tcp":
        addr = FW6 if "--v6" in args else FW4
        n = int(args[args.index("--bytes") + 1]) if "--bytes" in args else 0
        data = random.Random(12).randbytes(n) if n else b"hello, firmware: an echo over TCP\n"
        r = tcp_echo(addr, data)
        shown = "%d bytes" % len(data) if n else repr(data)
        if r.ok:
            say("  sent %s to [%s]:7, read the same back (%.2f s), then EOF" % (shown, addr, r.seconds))
            return 0
        say("  echo of %s to [%s]:7 FAILED: %s" % (shown, addr, r.error or
                                                   "first wrong byte at %s" % r.mismatch_at))
        return 1
    if cmd == "echo-udp":
        addr = FW6 if "--v6" in args else FW4
        payload = b"hello, firmware: a datagram"
        got, tries, src = udp_echo(addr, payload)
        if got == payload:
            say("  datagram %r to [%s]:7 came back from %s (try %d)" % (payload, addr, src[0], tries))
            return 0
        say("  datagram to [%s]:7: no echo (%d tries), got %r" % (addr, tries, got))
        return 1
    if cmd in ("graceful", "abort"):
        port, n = int(args[0]), int(args[1])
        reply, rx, _ = close_run(cmd, port, n)
        intact = bytes(rx.data) == close_pattern(len(rx.data))
        say("  firmware replied %r" % reply)
        say("  kernel read %d of %d bytes (%s), then %s" % (
            len(rx.data), n, "pattern intact" if intact else "PATTERN WRONG", rx.ending()))
        want = "EOF" if cmd == "graceful" else "ECONNRESET"
        ok = reply == "OK" and intact and rx.ending().startswith(want)
        if cmd == "graceful":
            ok = ok and len(rx.data) == n
        say("  => %s" % ("as expected: %s" % want if ok else "NOT as expected (wanted %s)" % want))
        return 0 if ok else 1
    if cmd == "linger":
        port, secs = int(args[0]), int(args[1])
        reply, rx, took = close_run("linger", port, secs, timeout=secs + 60.0)
        parsed = parse_linger_reply(reply)
        say("  firmware replied %r (ret, lpErrno, elapsed ms); the command took %.2f s" % (reply, took))
        reset = rx.state_at_release == TCP_CLOSE
        say("  kernel (receive buffer %d bytes, read nothing until the reply): connection %s"
            % (rx.rcvbuf, "reset (CLOSE) before it read or sent anything" if reset else
               "still %s %.0f s after the reply: the RST at the deadline did not reset it"
               % (TCP_STATES.get(rx.state_at_release, rx.state_at_release), rx.reset_wait)))
        say("  then it read %d bytes, then %s" % (len(rx.data), rx.ending()))
        ok = parsed is not None and parsed[0] == 0 and parsed[2] >= secs * 1000 \
            and reset and rx.ending().startswith("ECONNRESET")
        say("  => %s" % ("as expected: close blocked %d s, then RST" % secs if ok
                         else "NOT as expected (wanted 'OK 0 _ >=%d', the kernel's connection reset by "
                         "the RST, then ECONNRESET)" % (secs * 1000)))
        return 0 if ok else 1
    if cmd == "connect":
        port = int(args[0])
        reply = control("connect %d" % port, timeout=60.0)
        ok = reply == "ERR %d" % WSAECONNREFUSED
        say("  firmware replied %r%s" % (reply, " (WSAECONNREFUSED)" if ok else ""))
        return 0 if ok else 1
    if cmd == "udp":
        port, text = int(args[0]), args[1]
        reply, data, src = udp_from_firmware(port, text)
        ok = reply == "OK" and data == text.encode()
        say("  firmware replied %r; kernel UDP socket on port %d received %r from %s" % (
            reply, port, data, src[0] if src else None))
        return 0 if ok else 1
    if cmd == "mark":
        if mark_capture(args[0]):
            return 0
        say("  the capture did not show the end-of-capture marker")
        return 1
    if cmd == "summary":
        labels = {}
        for a in args[1:]:
            p, _, name = a.partition("=")
            labels[int(p)] = name
        for line in wire_summary(args[0], labels):
            say(line)
        return 0
    say("unknown command %r" % cmd)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(_main(sys.argv[1:]))
    except OSError as e:  # refused, unreachable, timed out: said in one line
        say("  FAILED: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

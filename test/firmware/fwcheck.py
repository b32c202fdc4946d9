"""Shared by the firmware tests: the kernel-side helpers (scripts/lib/fw_peer.py)
and a small check recorder that prints one line per check."""
import os
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib"))
import fw_peer  # noqa: E402  (after the path)


class Checks:
    def __init__(self, name):
        self.name = name
        self.failures = 0

    def check(self, cond, what):
        print("  %s  %s" % ("ok  " if cond else "FAIL", what), flush=True)
        if not cond:
            self.failures += 1
        return cond

    def info(self, what):
        print("        %s" % what, flush=True)


def run(name, body):
    """Runs body(checks); an exception counts as a failed check.  Exits 0
    when every check passed, 1 otherwise."""
    c = Checks(name)
    try:
        body(c)
    except Exception as e:  # noqa: BLE001  (reported, then the test fails)
        traceback.print_exc()
        c.check(False, "%s: %s" % (type(e).__name__, e))
    print("%s: %s" % (name, "all checks passed" if not c.failures
                      else "%d check(s) failed" % c.failures), flush=True)
    sys.exit(1 if c.failures else 0)

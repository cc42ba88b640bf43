"""scripts/vm_e2e.py's parts on synthetic input, no guest: the newc
writer (read back, and by GNU cpio when present), console parsing, the check
registry, and checks passing and failing on made-up consoles."""
import io
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from vme2e import checks, initramfs, live


def read_newc(data):
    """(name, mode, body) of each entry of a newc archive, up to TRAILER!!!."""
    out, off = [], 0
    while True:
        hdr = data[off:off + 110]
        assert hdr[:6] == b"070701", hdr[:6]
        f = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = f[1], f[6], f[11]
        name = data[off + 110:off + 110 + namesize - 1].decode()
        off += (110 + namesize + 3) & ~3
        body = data[off:off + size]
        off += (size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out.append((name, mode, body))


class Newc(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.d, "bin"))
        with open(os.path.join(self.d, "bin", "tool"), "wb") as f:
            f.write(b"\x7fELF" + bytes(range(7)))
        os.chmod(os.path.join(self.d, "bin", "tool"), 0o755)
        with open(os.path.join(self.d, "init"), "w") as f:
            f.write("#!/bin/sh\n")
        os.symlink("bin/tool", os.path.join(self.d, "link"))

    def tearDown(self):
        shutil.rmtree(self.d)

    def test_round_trip(self):
        buf = io.BytesIO()
        initramfs.write_newc(self.d, buf)
        entries = read_newc(buf.getvalue())
        names = [e[0] for e in entries]
        self.assertEqual(names, sorted(names))
        got = {n: (m, b) for n, m, b in entries}
        self.assertEqual(got["bin/tool"][1], b"\x7fELF" + bytes(range(7)))
        self.assertEqual(got["bin/tool"][0] & 0o777, 0o755)
        self.assertEqual(got["link"][1], b"bin/tool")
        self.assertTrue(got["bin"][0] & 0o040000)

    def test_same_tree_same_bytes(self):
        a, b = io.BytesIO(), io.BytesIO()
        initramfs.write_newc(self.d, a)
        initramfs.write_newc(self.d, b)
        self.assertEqual(a.getvalue(), b.getvalue())

    @unittest.skipUnless(shutil.which("cpio"), "GNU cpio not installed")
    def test_gnu_cpio_reads_it(self):
        buf = io.BytesIO()
        initramfs.write_newc(self.d, buf)
        r = subprocess.run(["cpio", "-t", "--quiet"], input=buf.getvalue(),
                           stdout=subprocess.PIPE, check=True)
        self.assertEqual(r.stdout.decode().split(), ["bin", "bin/tool", "init", "link"])


class Console(unittest.TestCase):
    CON = ("E2E-MODULE name=usbcore rc=0\nE2E-SCAN name=jam rc=4 pages=2 tiff_valid=1 "
           "sha256=ab\nE2E-SCAN name=jam3 rc=6 pages=2 sha256=x\nE2E-OUT jam | hello\n")

    def test_markers_and_fields(self):
        self.assertEqual(len(checks.markers(self.CON, "E2E-SCAN")), 2)
        line = checks.last_marker(self.CON, "E2E-SCAN", "jam")
        self.assertEqual(checks.field("rc", line), "4")
        self.assertEqual(checks.field("sha256", line), "ab")
        self.assertEqual(checks.field("nope", line), "")
        self.assertEqual(checks.prefixed(self.CON, "E2E-OUT jam | "), ["hello"])


class Registry(unittest.TestCase):
    def test_ids_unique_and_ctest_safe(self):
        self.assertEqual(len(checks.IDS), len(set(checks.IDS)))
        for cid in checks.IDS:
            self.assertRegex(cid, r"^[a-z0-9.:-]+$")

    def test_empty_console_fails_every_guest_check(self):
        res = checks.evaluate(checks.Ctx("", {}, {"modules": ["usbcore"], "a_exports": [],
                                                  "strings": {}, "port_a": 1,
                                                  "port_detach": 2}))
        self.assertEqual(set(res), set(checks.IDS))
        for cid in ("setup.modules", "a.1-1.attach", "ippusb.escl.scan", "jam.scan"):
            self.assertFalse(res[cid]["ok"], cid)
        # Nothing in an empty console is a kernel BUG or a sanitizer report.
        self.assertTrue(res["end.kernel"]["ok"])
        self.assertTrue(res["end.sanitizers"]["ok"])

    def test_escl_compare(self):
        refs = {"escl-escl": {"rc": "0", "pages": "3", "sha256": "a,b,c"}}
        ok = checks.Ctx("E2E-ESCL name=escl rc=0 pages=3 sha256=a,b,c\n", refs, {})
        bad = checks.Ctx("E2E-ESCL name=escl rc=0 pages=3 sha256=a,b,d\n", refs, {})
        self.assertTrue(checks.escl_compare("escl")(ok)[0])
        self.assertFalse(checks.escl_compare("escl")(bad)[0])

    def test_kernel_warning_fails(self):
        c = checks.Ctx("WARNING: CPU: 0 PID: 1 at drivers/usb/usbip/vhci_hcd.c\n", {}, {})
        self.assertFalse(checks.no_kernel_bug(c)[0])


class Live(unittest.TestCase):
    """The live-control pass (issue 15): the guest's request port and the
    checks on made-up consoles and watch events."""

    def test_guest_ctl_round_trip(self):
        calls = []
        ctl = live.GuestCtl({"unplug": lambda: calls.append("u") or "ok=1 rc=0"})
        try:
            def ask(word):
                with socket.create_connection(("127.0.0.1", ctl.port), timeout=10) as c:
                    c.sendall(word + b"\n")
                    return c.makefile().readline().strip()
            self.assertEqual(ask(b"unplug"), "ok=1 rc=0")
            self.assertTrue(ask(b"rm -rf /").startswith("ok=0 error=unknown-request"))
        finally:
            ctl.close()
        self.assertEqual(calls, ["u"])
        self.assertEqual([w for w, _r, _t in ctl.requests], ["unplug", "rm -rf /"])

    def test_twin_ambiguous(self):
        con = ("E2E-TWIN-DEV busid=1-1 sysfs=1-1 busdev=1.2 serial=S\n"
               "E2E-TWIN-DEV busid=1-2 sysfs=1-2 busdev=1.3 serial=S-1-2\n"
               "E2E-OUT twin-any | wiascan: --transport: 2 USB devices are 1209:0001: "
               "libusb:1.2 (serial S), libusb:1.3 (serial S-1-2); name one\n"
               "E2E-SCAN name=twin-any rc=2 pages=0 tiff_valid=0 sha256=none\n")
        self.assertTrue(checks.twin_ambiguous(checks.Ctx(con, {}, {}))[0])
        one = con.replace(", libusb:1.3 (serial S-1-2)", "")
        self.assertFalse(checks.twin_ambiguous(checks.Ctx(one, {}, {}))[0])

    def test_twin_scan_needs_the_other_digest_to_differ(self):
        refs = {"twin-1-1": {"rc": "0", "pages": "1", "tiff_valid": "1", "sha256": "a",
                             "status": "S_OK"},
                "twin-1-2": {"rc": "0", "pages": "1", "tiff_valid": "1", "sha256": "b",
                             "status": "S_OK"}}
        con = ("E2E-OUT twin-1-1 | S_OK\n"
               "E2E-SCAN name=twin-1-1 rc=0 pages=1 tiff_valid=1 sha256=a\n")
        self.assertTrue(checks.twin_scan("1-1")(checks.Ctx(con, refs, {}))[0])
        refs["twin-1-2"]["sha256"] = "a"
        self.assertFalse(checks.twin_scan("1-1")(checks.Ctx(con, refs, {}))[0])

    def test_unplug_events(self):
        ev = [{"event": "job_started", "busid": "1-1", "job": 1},
              {"event": "band", "busid": "1-1", "job": 1, "page": 1, "band": 19},
              {"event": "band", "busid": "1-1", "job": 1, "page": 2, "band": 1},
              {"event": "job_ended", "busid": "1-1", "job": 1, "status": "canceled"},
              {"event": "unplugged", "busid": "1-1"}]
        self.assertTrue(checks.unplug_events(checks.Ctx("", {}, {"live": {"events": ev}}))[0])
        self.assertFalse(checks.unplug_events(checks.Ctx("", {}, {"live": {
            "events": ev[:2] + ev[3:]}}))[0])  # unplugged before page 2
        self.assertFalse(checks.unplug_events(checks.Ctx("", {}, {"live": {
            "events": ev[:-1]}}))[0])  # never unplugged

    def test_replug_attach_in_order(self):
        info = {"live": {"port_unplug": 7, "vidpid": "1209:0001"}}
        con = ("E2E-ENUM vidpid=1209:0001 rc=0 sysfs=1-1\n"
               "E2E-LIVE-REPLY req=plug ok=1 rc=0 busid=1-1\n"
               "E2E-ATTACH port=7 busid=1-1 rc=0\n"
               "E2E-ENUM vidpid=1209:0001 rc=0 sysfs=1-1\n")
        self.assertTrue(checks.replug_attach(checks.Ctx(con, {}, info))[0])
        # An enumeration before the plug does not count.
        early = "\n".join(con.splitlines()[:3]) + "\n"
        self.assertFalse(checks.replug_attach(checks.Ctx(early, {}, info))[0])

    def test_twin_unplug_one(self):
        info = {"live": {"twin_unplug": {"rc": 0, "exports_after": [("1-1", "1209:0001")]}}}
        con = ("E2E-TWIN-UNPLUG rc=0 busid=1-2 sysfs=1-2 present=0 left=1\n"
               "E2E-TWIN-DMESG | [ 60.0] usb 1-2: USB disconnect, device number 14\n")
        self.assertTrue(checks.twin_unplug_one(checks.Ctx(con, {}, info))[0])
        both = {"live": {"twin_unplug": {"rc": 0, "exports_after": [
            ("1-1", "1209:0001"), ("1-2", "1209:0001")]}}}
        self.assertFalse(checks.twin_unplug_one(checks.Ctx(con, {}, both))[0])
        self.assertFalse(checks.twin_unplug_one(checks.Ctx(con.replace("left=1", "left=2"),
                                                           {}, info))[0])

    def test_unplug_kernel(self):
        con = ("E2E-UNPLUG-DEV sysfs=1-1 busnum=1 devnum=2\n"
               "E2E-UNPLUG-DMESG | [ 40.0] vhci_hcd: connection closed\n"
               "E2E-UNPLUG-DMESG | [ 40.1] usb 1-1: USB disconnect, device number 2\n")
        self.assertTrue(checks.unplug_kernel(checks.Ctx(con, {}, {}))[0])
        self.assertFalse(checks.unplug_kernel(checks.Ctx(con.replace("usb 1-1", "usb 2-1"),
                                                         {}, {}))[0])


if __name__ == "__main__":
    unittest.main()

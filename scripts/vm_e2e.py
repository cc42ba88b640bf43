#!/usr/bin/python3
"""End-to-end test through the real Linux USB stack (issues 7, 13 and 15).

Boots a throwaway QEMU guest (Debian's own kernel, busybox initramfs, no KVM,
user-mode networking) that loads usb-common, usbcore, usbip-core and
vhci-hcd, `usbip attach`es scanners exported by scanemu on this host's
loopback (the guest sees it as 10.0.2.2), scans from them with
`wiascan --transport libusb:VID:PID` through the guest kernel's usbcore, and
scans the devices with IPP-USB interfaces through Debian's ipp-usb,
sane-airscan and scanimage. Every guest result is compared with the same scan
done here: wiascan's userspace usbip transport; scanimage through
`scanemu --escl-listen`. The live-control pass drives `scanemu ctl unplug`
and `plug` while the guest has the device attached, and selects one of two
identical devices by bus address and by serial. docs/vm-e2e.md says what is
checked.

Needs no root on the test machine, no USB in the host kernel and no modules
loaded on the host. Fails (never skips) when something is missing; run
scripts/bootstrap.sh to install it.

Parts: vme2e/debcache.py (the apt download cache and the guest's Debian
files), vme2e/initramfs.py (the initramfs builder), vme2e/qemu.py (the QEMU
runner), vme2e/host.py (scanemu instances, reference scans), vme2e/live.py
(the live-control pass's host side), vme2e/checks.py (the checks, one id
each). The guest's half is scripts/vm/init, run.sh, ippusb.sh and live.sh
(busybox sh).

CTest runs `--fixture` once (the guest run; it fails only when the run could
not complete) and `--report ID` per check (vm_e2e.ID).
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vme2e import checks, debcache, host, initramfs, live, qemu  # noqa: E402
from vme2e.util import Failure, elapsed, log, need, run  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="vm-e2e", description="End-to-end test through the real Linux USB stack "
        "(docs/vm-e2e.md).")
    p.add_argument("--build-dir", help="a configured and built CMake build tree")
    p.add_argument("--smoke", action="store_true",
                   help="only boot the guest, load the modules and reach a TCP listener on the "
                   "host: no scanemu/wiascan needed")
    p.add_argument("--keep", action="store_true", help="keep BUILD/vm-e2e even on success")
    p.add_argument("--mem", type=int, help="guest memory in MiB (default 512; 1024 for "
                   "sanitizer builds)")
    p.add_argument("--timeout", type=int, default=420, help="wall-clock limit for the guest "
                   "(default 420)")
    p.add_argument("--verbose", action="store_true", help="print the whole guest console even "
                   "on success")
    p.add_argument("--fixture", action="store_true", help="CTest's run: exit 0 once every check "
                   "is recorded (each is reported by --report), non-zero only when the run did "
                   "not complete")
    p.add_argument("--report", metavar="ID", help="report one check of the last run and exit "
                   "with its status")
    p.add_argument("--list-checks", action="store_true", help="print the check ids")
    a = p.parse_args(argv)
    if not (a.list_checks or a.build_dir):
        p.error("--build-dir is required")
    return a


# ---- the guest's Debian parts and the initramfs ---------------------------------------------

def prepare_guest(build, work):
    for cmd, pkg in [("qemu-system-x86_64", "qemu-system-x86"), ("apt-get", "apt"),
                     ("apt-cache", "apt"), ("dpkg", "dpkg"), ("dpkg-deb", "dpkg"),
                     ("ldd", "libc-bin"), ("modinfo", "kmod")]:
        need(cmd, pkg)
    cache = debcache.DebCache(debcache.cache_dir(SRC, build), work)
    try:
        guest = cache.unpack(cache.fetch())
    finally:
        cache.release()
    with open(os.path.join(guest, "kernel-version")) as f:
        kver = f.read().strip()
    with open(os.path.join(guest, "modules", "order")) as f:
        modules = f.read().split()
    log(f"kernel {kver}, modules: {' '.join(modules)}")
    return guest, modules


def base_stage(work, guest, modules):
    st = initramfs.Stage(os.path.join(work, "initramfs"))
    st.copy(os.path.join(guest, "bin", "busybox"), "/bin/busybox", 0o755)
    st.copy(os.path.join(SRC, "scripts", "vm", "init"), "/init", 0o755)
    for m in modules:
        st.copy(os.path.join(guest, "modules", m + ".ko"), f"/lib/modules/{m}.ko")
    st.text("/e2e/modules", "".join(m + "\n" for m in modules))
    st.copy(os.path.join(guest, "usb.ids"), "/usr/share/hwdata/usb.ids")
    st.symlink("../hwdata/usb.ids", "/usr/share/misc/usb.ids")
    st.install_elf(os.path.join(guest, "bin", "usbip"), "/usr/sbin/usbip")
    st.install_elf(os.path.join(guest, "bin", "lsusb"), "/usr/bin/lsusb")
    return st


# ---- smoke mode ---------------------------------------------------------------------------------

SMOKE_GUEST = """#!/bin/sh
rc=0
reply="$(echo ping | timeout 20 nc 10.0.2.2 {port})"
echo "E2E-PING reply=$reply"
[ "$reply" = "{token}" ] || rc=1
if [ -d /sys/devices/platform/vhci_hcd.0 ]; then echo "E2E-VHCI rc=0"; else echo "E2E-VHCI rc=1"; fi
lsusb; echo "E2E-LSUSB rc=$?"
usbip port; echo "E2E-USBIP-PORT rc=$?"
exit $rc
"""


def smoke(a, work, guest, modules):
    token = f"pong-{os.getpid()}"
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.recv(64)
            c.sendall((token + "\n").encode())
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    st = base_stage(work, guest, modules)
    st.text("/e2e/run.sh", SMOKE_GUEST.format(port=port, token=token), 0o755)
    cpio = os.path.join(work, "initramfs.cpio")
    st.pack(cpio)
    secs = qemu.run_vm(os.path.join(guest, "vmlinuz"), cpio, os.path.join(work, "console.log"),
                       os.path.join(work, "qemu.log"), a.mem or 512, a.timeout)
    srv.close()
    con = qemu.console_text(os.path.join(work, "console.log"))
    if "\nE2E-END" not in "\n" + con:
        raise Failure("the guest never reached E2E-END")
    ctx = checks.Ctx(con, {}, {"modules": modules})
    res = [checks.check_modules(ctx), checks.check_network(ctx),
           checks._ok(f"E2E-PING reply={token}" in con.splitlines(),
                      f"guest reached the host loopback listener at 10.0.2.2:{port}"),
           checks._ok("E2E-VHCI rc=0" in con, "vhci_hcd.0 platform device present"),
           checks._ok("E2E-LSUSB rc=0" in con, "lsusb runs in the guest"),
           checks._ok("E2E-USBIP-PORT rc=0" in con, "usbip port runs in the guest")]
    return {f"smoke.{i}": {"ok": ok, "description": d, "details": det}
            for i, (ok, d, det) in enumerate(res)}, secs, con


# ---- full mode ------------------------------------------------------------------------------------

class Full:
    def __init__(self, a, work, guest, modules):
        self.a = a
        self.work = work
        self.guest = guest
        self.modules = modules
        b = a.build_dir
        self.scanemu = os.environ.get("SCANEMU") or os.path.join(b, "emulator", "scanemu")
        self.wiascan = os.environ.get("WIASCAN") or os.path.join(b, "driver", "wiascan")
        self.profiles = os.path.join(SRC, "fixtures", "profiles")
        self.scenarios = os.path.join(SRC, "fixtures", "scenarios")
        self.seed = os.environ.get("VM_E2E_SEED", "20240607")
        env = os.environ.get
        self.scan_args = shlex.split(env("VM_E2E_SCAN_ARGS") or
                                     f"-v --pages 2 --mode gray --dpi 100 --seed {self.seed}")
        self.detach_args = shlex.split(env("VM_E2E_DETACH_ARGS") or
                                       f"-v --pages 40 --mode gray --dpi 100 --seed {self.seed}")
        self.stall_args = shlex.split(env("VM_E2E_STALL_ARGS") or
                                      f"-v --pages 3 --mode gray --dpi 100 --seed {self.seed}")
        self.jam_args = shlex.split(env("VM_E2E_JAM_ARGS") or
                                    f"-v --pages 5 --mode gray --dpi 100 --seed {self.seed}")
        self.escl_args = shlex.split(env("VM_E2E_ESCL_ARGS") or
                                     "--source ADF --mode Gray --resolution 75")
        self.wusb_args = shlex.split(env("VM_E2E_WUSB_ARGS") or
                                     "-v --pages 3 --source adf --mode gray --dpi 75")
        self.wusb_d_args = shlex.split(env("VM_E2E_WUSB_DETACH_ARGS") or
                                       "-v --pages 40 --source adf --mode gray --dpi 75")
        self.refs = {}
        self.info = {"modules": modules, "host_logs": [os.path.join(work, "ref", "*.log"),
                                                       os.path.join(work, "emu-*.log")]}
        self.emus = host.Emus(self.scanemu, work, self.seed)
        self.live = live.Live(self)
        self.info["live"] = self.live.info

    def requirements(self):
        need("usbip", "usbip")
        need("tiffinfo", "libtiff-tools")
        need("scanimage", "sane-utils")
        self.ippusb = shutil.which("ipp-usb") or "/usr/sbin/ipp-usb"
        if not os.access(self.ippusb, os.X_OK):
            raise Failure("ipp-usb not found: install the Debian package 'ipp-usb' "
                          "(scripts/bootstrap.sh does)")
        so = [line for line in run(["dpkg", "-L", "sane-airscan"]).stdout.splitlines()
              if line.endswith("/libsane-airscan.so.1")]
        if not so or not os.path.isfile(so[0]):
            raise Failure("sane-airscan's libsane-airscan.so.1 not found: install the Debian "
                          "package 'sane-airscan' (scripts/bootstrap.sh does)")
        self.airscan_so = so[0]
        if not os.path.isdir("/usr/share/ipp-usb/quirks"):
            raise Failure("/usr/share/ipp-usb/quirks missing: reinstall the Debian package "
                          "'ipp-usb'")
        for exe, target in [(self.scanemu, "scanemu"), (self.wiascan, "wiascan")]:
            if not os.access(exe, os.X_OK):
                raise Failure(f"{target} not built at {exe} (build the '{target}' target first)")
        for name in ["default", "fast-duplex", "airscan-usb", "mfp"]:
            if not os.path.isfile(os.path.join(self.profiles, name + ".yaml")):
                raise Failure(f"missing fixture {self.profiles}/{name}.yaml")
        for name in ["clean", "stall-mid-page", "jam-page3-band5"]:
            if not os.path.isfile(os.path.join(self.scenarios, name + ".yaml")):
                raise Failure(f"missing fixture {self.scenarios}/{name}.yaml")
        self.sanitized = "libasan" in run(["ldd", self.wiascan]).stdout or \
            "libubsan" in run(["ldd", self.wiascan]).stdout
        self.mem = self.a.mem or (1024 if self.sanitized else 512)
        log(f"scanemu {self.scanemu}, wiascan {self.wiascan}"
            f"{' (ASan/UBSan build)' if self.sanitized else ''}")

    def profile(self, name):
        return os.path.join(self.profiles, name + ".yaml")

    def scenario_file(self, name, text):
        path = os.path.join(self.work, name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def second_profile(self):
        """default.yaml's VID:PID, and a second profile with another one:
        libusb:VID:PID must name each attached device, and the native-only
        profiles all use 1209:0001, so a copy with only the PID changed."""
        p = self.emus.start("probe", "--device", self.profile("default"))
        e = dict(host.exports(p))
        default_vp = e.get("1-1")
        if not default_vp:
            raise Failure(f"usbip list -r 127.0.0.1 --tcp-port {p} shows no 1-1")
        src2 = os.environ.get("VM_E2E_PROFILE2") or self.profile("fast-duplex")
        prof2 = src2
        p2 = self.emus.start("probe2", "--device", prof2)
        vp2 = dict(host.exports(p2)).get("1-1")
        if vp2 == default_vp:
            newpid = f"0x{(int(default_vp.split(':')[1], 16) + 1) & 0xffff:04x}"
            with open(src2) as f:
                text = f.read()
            text = re.sub(r"^(\s*pid:\s*)0x[0-9a-fA-F]+", lambda m: m.group(1) + newpid, text,
                          count=1, flags=re.M)
            prof2 = os.path.join(self.work, os.path.basename(src2)[:-5] + "-pid2.yaml")
            with open(prof2, "w") as f:
                f.write(text)
            p3 = self.emus.start("probe3", "--device", prof2)
            vp2 = dict(host.exports(p3)).get("1-1")
            if not vp2 or vp2 == default_vp:
                raise Failure(f"could not give {os.path.basename(src2)} a PID other than "
                              f"default.yaml's ({default_vp})")
        log(f"devices: default.yaml ({default_vp}) and {os.path.basename(prof2)} ({vp2})")
        self.default_vp = default_vp
        self.profile_of = {default_vp: self.profile("default"), vp2: prof2}

    def references(self):
        detach_yaml = self.scenario_file(
            "vm-detach", "name: vm-detach\ndescription: No faults, 50 sheets - a long job for "
            "the VM test to unplug\nsheets: 50\n")
        three = self.scenario_file("vm-3sheets", "name: vm-3sheets\ndescription: No faults, 3 "
                                   "sheets - a 3-page ADF job\nsheets: 3\n")
        jam3 = self.scenario_file(
            "vm-jam3", "name: vm-jam3\ndescription: Paper jam as page 3 starts - NextDocument "
            "404, ScannerAdfJam\nsheets: 10\nfaults:\n  - kind: paper_jam\n"
            "    at: {page: 3, band: 1}\n")
        prof2 = self.profile_of[[vp for vp in self.profile_of if vp != self.default_vp][0]]
        self.emu_a = ["--scenario", os.path.join(self.scenarios, "clean.yaml"), "--device",
                      self.profile("default"), "--device", prof2, "--no-timing"]
        self.emu_stall = ["--device", self.profile("default"), "--scenario",
                          os.path.join(self.scenarios, "stall-mid-page.yaml"), "--no-timing"]
        self.emu_jam = ["--device", self.profile("default"), "--scenario",
                        os.path.join(self.scenarios, "jam-page3-band5.yaml"), "--no-timing"]
        # The detach scan keeps the profile's timing and 50 sheets, so the
        # job is far from its end when the guest detaches after page 1.
        self.emu_detach = ["--device", self.profile("default"), "--scenario", detach_yaml]
        # IPP-USB: [escl], [native, escl], [escl] with a jam as page 3
        # starts, and (host only) the 50-sheet job the unplug interrupts.
        air = self.profile("airscan-usb")
        self.emu_ipp = ["--device", air, "--scenario", three, "--device", self.profile("mfp"),
                        "--scenario", three, "--device", air, "--scenario", jam3,
                        "--device", air, "--scenario", detach_yaml, "--no-timing"]
        self.emu_ippd = ["--device", air, "--scenario", detach_yaml]

        port = self.emus.start("refa", *self.emu_a)
        self.a_exports = host.exports(port)
        if len(self.a_exports) != 2:
            raise Failure(f"scanemu with two --device exports {len(self.a_exports)} devices")
        log("host reference scans (usbip transport)")
        for busid, vp in self.a_exports:
            self.refs[f"a-{busid}"] = host.host_scan(self.wiascan, self.work, f"a-{busid}", port,
                                                     busid, vp, self.scan_args)
        port = self.emus.start("refstall", *self.emu_stall)
        self.refs["stall"] = host.host_scan(self.wiascan, self.work, "stall", port, "1-1",
                                            self.default_vp, self.stall_args)
        port = self.emus.start("refjam", *self.emu_jam)
        self.refs["jam"] = host.host_scan(self.wiascan, self.work, "jam", port, "1-1",
                                          self.default_vp, self.jam_args)
        log("host reference scans (scanimage, sane-airscan, --escl-listen)")
        _port, eport = self.emus.start("refipp", *self.emu_ipp, escl=True)
        for name, path in [("escl", ""), ("mfp", "/1-2"), ("jam3", "/1-3"), ("detach", "/1-4")]:
            self.refs[f"escl-{name}"] = host.host_escl(self.work, name, eport, path,
                                                       self.escl_args)
        port = self.emus.start("refmfp", "--device", self.profile("mfp"), "--scenario", three,
                               "--no-timing")
        self.refs["native-mfp"] = host.host_scan(self.wiascan, self.work, "native-mfp", port,
                                                 "1-1", checks.MFP_VIDPID, self.scan_args)
        self.live.references()
        self.wusb_references()
        for name, r in sorted(self.refs.items()):
            log(f"  ref {host.result_line(r)[:200]}")

    def wusb_references(self):
        """wiascan's eSCL client here (escl+http through --escl-listen, the
        IPP-USB scanimage pass's devices, scenarios and seed), for the
        guest's wiascan escl+usb scans."""
        need("tiffsplit", "libtiff-tools")
        log("host reference scans (wiascan escl+http, --escl-listen)")
        _port, eport = self.emus.start("refwusb", *self.emu_ipp, escl=True)
        for case in checks.WUSB_CASES:
            path = checks.WUSB_ESCL_PATH[case]
            self.refs[f"wusb-{case}"] = host.host_wiascan(
                self.wiascan, self.work, f"wusb-{case}",
                f"escl+http://127.0.0.1:{eport}{path}/eSCL", self.wusb_args)
        # The unplugged job's pages: the same device's whole job (40 pages,
        # a second), so however many pages the guest completed before the
        # unplug landed (3-4 usually; 30 once, under the sanitizers) are
        # compared with the device's first ones.
        self.refs["wusb-detach"] = host.host_wiascan(
            self.wiascan, self.work, "wusb-detach",
            f"escl+http://127.0.0.1:{eport}{checks.WUSB_ESCL_PATH['detach']}/eSCL",
            self.wusb_d_args)

    def wusb_conf(self, st):
        """The guest's part of the escl+usb scans: tiffsplit, and the conf."""
        st.install_elf(shutil.which("tiffsplit"), "/usr/bin/tiffsplit")
        port = self.emus.start("wusbd", *self.emu_ippd)
        serial = re.search(r"^\s*serial:\s*\"?([^\"#\s]+)",
                           open(self.profile("airscan-usb")).read(), re.M)
        self.info["wusb_serial"] = serial.group(1) if serial else "?"
        return {"WUSB_CASES": " ".join(checks.WUSB_CASES), "WUSB_SERIAL": self.info["wusb_serial"],
                "WUSB_VIDPID": checks.ESCL_VIDPID,
                "WUSB_ARGS": " ".join(self.wusb_args),
                "WUSB_D_PORT": port, "WUSB_D_ARGS": " ".join(self.wusb_d_args)}

    def stage(self):
        ports = {name: self.emus.start(name, *args) for name, args in [
            ("a", self.emu_a), ("detach", self.emu_detach), ("stall", self.emu_stall),
            ("jam", self.emu_jam), ("ipp", self.emu_ipp), ("ippd", self.emu_ippd)]}
        self.info.update(port_a=ports["a"], port_detach=ports["detach"],
                         a_exports=self.a_exports)
        strings = {}
        for vp, prof in self.profile_of.items():
            want = {}
            with open(prof) as f:
                for line in f:
                    for key, label in [("manufacturer", "iManufacturer"),
                                       ("product", "iProduct"), ("serial", "iSerial")]:
                        s = line.strip()
                        if s.startswith(key + ":") and label not in want:
                            val = s[len(key) + 1:].split(" #")[0].strip().strip('"')
                            if val:
                                want[label] = val
            strings[vp] = want
        self.info["strings"] = strings

        st = base_stage(self.work, self.guest, self.modules)
        st.install_elf(self.wiascan, "/usr/bin/wiascan")
        st.install_elf(shutil.which("tiffinfo"), "/usr/bin/tiffinfo")
        st.copy(os.path.join(SRC, "scripts", "vm", "run.sh"), "/e2e/run.sh", 0o755)
        # IPP-USB: ipp-usb, scanimage, sane-airscan (dlopen()ed by libsane:
        # ldd on it finds its libraries), their configuration.
        st.install_elf(self.ippusb, "/usr/sbin/ipp-usb")
        st.install_elf(shutil.which("scanimage"), "/usr/bin/scanimage")
        st.install_elf(self.airscan_so)
        st.copy(os.path.join(SRC, "scripts", "vm", "ippusb.sh"), "/e2e/ippusb.sh", 0o755)
        shutil.copytree("/usr/share/ipp-usb/quirks", st.path("/usr/share/ipp-usb/quirks"))
        st.text("/etc/ipp-usb/ipp-usb.conf", IPPUSB_CONF)
        st.text("/etc/hosts", "127.0.0.1 localhost\n")
        st.text("/etc/nsswitch.conf", "hosts: files\n")
        q = shlex.quote
        conf = {
            "SCAN_TIMEOUT": "180",
            "A_PORT": ports["a"], "A_BUSIDS": " ".join(b for b, _ in self.a_exports),
            "A_VIDPIDS": " ".join(v for _, v in self.a_exports),
            "SCAN_ARGS": " ".join(self.scan_args),
            "D_PORT": ports["detach"], "D_VIDPID": self.default_vp,
            "D_ARGS": " ".join(self.detach_args),
            "SCENARIO_CASES": "stall jam",
            "PORT_stall": ports["stall"], "VIDPID_stall": self.default_vp,
            "ARGS_stall": " ".join(self.stall_args),
            "PORT_jam": ports["jam"], "VIDPID_jam": self.default_vp,
            "ARGS_jam": " ".join(self.jam_args),
            "IPP_PORT": ports["ipp"], "IPP_CASES": " ".join(checks.IPP_CASES),
            "IPP_BUSID_escl": "1-1", "IPP_VIDPID_escl": checks.ESCL_VIDPID,
            "IPP_BUSID_mfp": "1-2", "IPP_VIDPID_mfp": checks.MFP_VIDPID, "IPP_MODE_mfp": "native",
            "IPP_BUSID_jam3": "1-3", "IPP_VIDPID_jam3": checks.ESCL_VIDPID,
            "IPP_D_PORT": ports["ippd"], "IPP_D_VIDPID": checks.ESCL_VIDPID,
            "ESCL_ARGS": " ".join(self.escl_args),
        }
        conf.update(self.live.stage())
        st.copy(os.path.join(SRC, "scripts", "vm", "live.sh"), "/e2e/live.sh", 0o755)
        conf.update(self.wusb_conf(st))
        text = "".join(f"{k}={q(str(v))}\n" for k, v in conf.items())
        text += ("export ASAN_OPTIONS=" + q(os.environ.get(
            "ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")) + "\n")
        text += ("export UBSAN_OPTIONS=" + q(os.environ.get(
            "UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")) + "\n")
        st.text("/e2e/conf", text)
        cpio = os.path.join(self.work, "initramfs.cpio")
        st.pack(cpio)
        return cpio

    def after(self, con):
        """Host work that depends on the guest's results: the detach
        reference of as many pages as the guest kept."""
        d = checks.last_marker(con, "E2E-SCAN", "detach")
        n = checks.field("pages", d)
        if n.isdigit() and int(n) >= 1:
            port = self.emus.start("refdetach", *self.emu_detach, "--no-timing")
            args = list(self.detach_args)
            if "--pages" in args:
                args[args.index("--pages") + 1] = n
            self.refs["detach"] = host.host_scan(self.wiascan, self.work, "detach", port, "1-1",
                                                 self.default_vp, args)
        self.live.after(con)
        # Stop the scanemu instances first, so their exit-time leak check ran.
        self.info["stop_failed"] = self.emus.stop()

    def run(self):
        self.requirements()
        self.second_profile()
        self.references()
        cpio = self.stage()
        secs = qemu.run_vm(os.path.join(self.guest, "vmlinuz"), cpio,
                           os.path.join(self.work, "console.log"),
                           os.path.join(self.work, "qemu.log"), self.mem, self.a.timeout)
        con = qemu.console_text(os.path.join(self.work, "console.log"))
        with open(os.path.join(self.work, "console.txt"), "w") as f:
            f.write(con)
        if "\nE2E-END" not in "\n" + con:
            raise Failure("the guest never reached E2E-END")
        self.after(con)
        return checks.evaluate(checks.Ctx(con, self.refs, self.info)), secs, con


IPPUSB_CONF = """# The guest's ipp-usb: no Avahi, localhost only (docs/escl.md, "eSCL over USB (IPP-USB)").
[network]
  http-min-port = 60000
  http-max-port = 65535
  dns-sd = disable
  interface = loopback
  ipv6 = disable
[logging]
  device-log = debug
  main-log = debug
  console-log = debug
  console-color = disable
"""


# ---- main -----------------------------------------------------------------------------------------

def report(build, cid):
    path = os.path.join(build, "vm-e2e", "results.json")
    if not os.path.exists(path):
        print(f"vm-e2e: no results in {path}: the guest run (CTest's vm_e2e) did not complete")
        return 1
    res = checks.load(path)["checks"].get(cid)
    if res is None:
        print(f"vm-e2e: no check '{cid}' in {path}")
        return 1
    print(f"  {'ok  ' if res['ok'] else 'FAIL'}  {res['description']}")
    if res["details"]:
        print("\n".join("        " + line for line in res["details"].splitlines()))
    return 0 if res["ok"] else 1


def _on_signal(signum, _frame):
    # Unwinds through the finally clauses: scanemu instances and the guest
    # are stopped, as CTest's timeout or a ^C expects.
    raise SystemExit(128 + signum)


def main(argv):
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if a.list_checks:
        print("\n".join(checks.IDS))
        return 0
    build = os.path.abspath(a.build_dir)
    if a.report:
        return report(build, a.report)
    os.makedirs(build, exist_ok=True)
    a.build_dir = build
    work = os.path.join(build, "vm-e2e")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    console = None
    full = None
    try:
        guest, modules = prepare_guest(build, work)
        if a.smoke:
            results, secs, console = smoke(a, work, guest, modules)
        else:
            full = Full(a, work, guest, modules)
            results, secs, console = full.run()
    except Failure as e:
        if full is not None:
            full.live.close()
            full.emus.stop()
        print(f"vm-e2e: FAIL: {e}", file=sys.stderr)
        con = qemu.console_text(os.path.join(work, "console.log"))
        if con:
            print(f"----- guest console ({work}/console.log) -----\n{con}\n"
                  "----- end of guest console -----", file=sys.stderr)
        print(f"vm-e2e: RESULT: FAIL ({elapsed()} s)", file=sys.stderr)
        return 1
    finally:
        if full is not None:
            full.live.close()
            full.emus.stop()
    checks.save(os.path.join(work, "results.json"), results,
                {"guest_seconds": secs, "seconds": elapsed()})
    print("vm-e2e: checks")
    failed = [r for r in results.values() if not r["ok"]]
    for cid, r in results.items():
        print(f"  {'ok  ' if r['ok'] else 'FAIL'}  {r['description']}")
        if not r["ok"] and r["details"]:
            print("\n".join("        " + line for line in r["details"].splitlines()))
    if failed or a.verbose:
        print(f"----- guest console ({work}/console.log) -----\n{console}\n"
              "----- end of guest console -----")
    if failed:
        print(f"vm-e2e: {len(failed)} check(s) failed:")
        for r in failed:
            print(f"  - {r['description']}")
        print(f"vm-e2e: RESULT: FAIL ({elapsed()} s, guest {secs} s; work dir {work})")
        return 0 if a.fixture else 1
    print(f"vm-e2e: RESULT: PASS ({elapsed()} s, guest {secs} s)")
    if not a.keep:
        shutil.rmtree(os.path.join(work, "initramfs"), ignore_errors=True)
        if os.path.exists(os.path.join(work, "initramfs.cpio")):
            os.unlink(os.path.join(work, "initramfs.cpio"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

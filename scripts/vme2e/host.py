"""The host side: scanemu instances on free loopback ports, Debian's
`usbip list`, and the reference scans the guest's are compared with
(wiascan's userspace usbip transport; scanimage through sane-airscan and
`scanemu --escl-listen`)."""
import glob
import os
import re
import signal
import subprocess
import time

from .util import Failure, run, sha256_file

STATUS_RE = re.compile(r"(S_OK|WIA_(?:ERROR|STATUS)_[A-Z_]+)")


class Emus:
    """scanemu instances; stop() ends them (SIGTERM, then SIGKILL)."""

    def __init__(self, scanemu, work, seed):
        self.scanemu = scanemu
        self.work = work
        self.seed = seed
        self.procs = {}
        self.ports = {}

    def start(self, name, *args, escl=False):
        port_file = os.path.join(self.work, f"emu-{name}.port")
        escl_file = os.path.join(self.work, f"emu-{name}.escl-port")
        for f in (port_file, escl_file):
            if os.path.exists(f):
                os.unlink(f)
        argv = [self.scanemu, "--listen", "127.0.0.1:0", "--port-file", port_file,
                "--seed", str(self.seed), *args]
        if escl:
            argv += ["--escl-listen", "127.0.0.1:0", "--escl-port-file", escl_file]
        logf = open(os.path.join(self.work, f"emu-{name}.log"), "w")
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        logf.close()
        self.procs[name] = p
        want = [port_file] + ([escl_file] if escl else [])
        for _ in range(100):
            if all(os.path.exists(f) and os.path.getsize(f) > 0 for f in want):
                break
            if p.poll() is not None:
                break
            time.sleep(0.1)
        if not all(os.path.exists(f) and os.path.getsize(f) > 0 for f in want):
            with open(os.path.join(self.work, f"emu-{name}.log")) as f:
                raise Failure(f"scanemu ({name}: {' '.join(args)}) did not start: {f.read()}")
        port = int(re.sub(r"\D", "", open(port_file).read()))
        self.ports[name] = port
        if escl:
            return port, int(re.sub(r"\D", "", open(escl_file).read()))
        return port

    def stop(self):
        """Returns the instances that did not exit 0, as 'name:status'."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        bad = []
        for name, p in self.procs.items():
            try:
                rc = p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if rc != 0:
                bad.append(f"{name}:{rc}")
        self.procs = {}
        return bad


def exports(port):
    """[(busid, 'vid:pid')] as Debian's usbip client lists them."""
    out = run(["usbip", "--tcp-port", str(port), "list", "-r", "127.0.0.1"]).stdout
    return re.findall(r"^ *([0-9][0-9.-]*): .*\(([0-9a-f]{4}:[0-9a-f]{4})\)$", out, re.M)


def host_scan(wiascan, work, name, port, busid, vidpid, args):
    """The reference scan through wiascan's usbip transport: a result dict
    like the guest's E2E-SCAN line, plus status and the log."""
    ref = os.path.join(work, "ref")
    os.makedirs(ref, exist_ok=True)
    tiff = os.path.join(ref, f"{name}.tiff")
    logp = os.path.join(ref, f"{name}.log")
    with open(logp, "w") as lf:
        try:
            rc = subprocess.run([wiascan, "--transport", f"usbip://127.0.0.1:{port}/{busid}",
                                 "--device-id", vidpid, *args, "-o", tiff], stdout=lf,
                                stderr=subprocess.STDOUT, timeout=300, check=False).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    res = {"name": name, "rc": str(rc), "pages": "0", "tiff_valid": "0", "sha256": "none"}
    if os.path.exists(tiff) and os.path.getsize(tiff) > 0:
        res["sha256"] = sha256_file(tiff)
        ti = run(["tiffinfo", tiff])
        with open(os.path.join(ref, f"{name}.tiffinfo"), "w") as f:
            f.write(ti.stdout)
        res["tiff_valid"] = "1" if ti.returncode == 0 else "0"
        res["pages"] = str(len(re.findall(r"^TIFF Directory", ti.stdout, re.M)))
    text = open(logp).read()
    st = STATUS_RE.findall(text)
    res["status"] = st[-1] if st else "none"
    res["log"] = text
    return res


def host_escl(work, name, escl_port, path, escl_args):
    """scanimage's ADF batch here, through sane-airscan and --escl-listen:
    a result dict like the guest's E2E-ESCL line, plus stderr."""
    conf = os.path.join(work, f"sane-{name}")
    ref = os.path.join(work, "ref")
    os.makedirs(conf, exist_ok=True)
    os.makedirs(ref, exist_ok=True)
    with open(os.path.join(conf, "airscan.conf"), "w") as f:
        f.write(f'[devices]\n"{name}" = http://127.0.0.1:{escl_port}{path}/eSCL, eSCL\n'
                "[options]\ndiscovery = disable\nws-discovery = off\n")
    with open(os.path.join(conf, "dll.conf"), "w") as f:
        f.write("airscan\n")
    for old in glob.glob(os.path.join(ref, f"{name}-p*.png")):
        os.unlink(old)
    env = dict(os.environ, SANE_CONFIG_DIR=conf)
    try:
        r = subprocess.run(["scanimage", "-d", f"airscan:e0:{name}", *escl_args, "--format=png",
                            f"--batch={ref}/{name}-p%d.png"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120, check=False)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = 124, "timeout"
    sums = []
    n = 1
    while os.path.exists(os.path.join(ref, f"{name}-p{n}.png")) and \
            os.path.getsize(os.path.join(ref, f"{name}-p{n}.png")) > 0:
        sums.append(sha256_file(os.path.join(ref, f"{name}-p{n}.png")))
        n += 1
    with open(os.path.join(ref, f"escl-{name}.err"), "w") as f:
        f.write(err)
    return {"name": name, "rc": str(rc), "pages": str(len(sums)),
            "sha256": ",".join(sums) or "none", "err": err}


def result_line(res):
    return " ".join(f"{k}={res[k]}" for k in res if k not in ("log", "err"))


# ---- wiascan's eSCL client (escl+http here, escl+usb in the guest) ----------------------------

def page_digests(tiff):
    """sha256 of each page of a TIFF as its own file (libtiff's tiffsplit),
    in page order: equal pages give equal digests whatever the file around
    them holds."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        if run(["tiffsplit", tiff, os.path.join(d, "p")]).returncode != 0:
            return []
        return [sha256_file(os.path.join(d, f)) for f in sorted(os.listdir(d))]


def host_wiascan(wiascan, work, name, transport, args):
    """A wiascan reference scan through any transport: a result dict like
    the guest's E2E-SCAN line, plus status, the log and page_sha (the page
    digests, comma-separated)."""
    ref = os.path.join(work, "ref")
    os.makedirs(ref, exist_ok=True)
    tiff = os.path.join(ref, f"{name}.tiff")
    logp = os.path.join(ref, f"{name}.log")
    if os.path.exists(tiff):
        os.unlink(tiff)
    with open(logp, "w") as lf:
        try:
            rc = subprocess.run([wiascan, "--transport", transport, *args, "-o", tiff], stdout=lf,
                                stderr=subprocess.STDOUT, timeout=300, check=False).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    res = {"name": name, "rc": str(rc), "pages": "0", "tiff_valid": "0", "sha256": "none",
           "page_sha": "none"}
    if os.path.exists(tiff) and os.path.getsize(tiff) > 0:
        res["sha256"] = sha256_file(tiff)
        ti = run(["tiffinfo", tiff])
        res["tiff_valid"] = "1" if ti.returncode == 0 else "0"
        res["pages"] = str(len(re.findall(r"^TIFF Directory", ti.stdout, re.M)))
        res["page_sha"] = ",".join(page_digests(tiff)) or "none"
    text = open(logp).read()
    st = STATUS_RE.findall(text)
    res["status"] = st[-1] if st else "none"
    res["log"] = text
    return res

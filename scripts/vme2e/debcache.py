"""The guest's parts from Debian: `apt-get download` into a cache keyed by
package version, unpacked once per package set with `dpkg -x` (kernel image,
the modules with their dependencies, busybox, usbip, lsusb, usb.ids)."""
import fcntl
import glob
import hashlib
import lzma
import os
import re
import shutil
import subprocess

from .util import Failure, log, run

PACKAGES = ["busybox-static", "usbip", "usbutils", "hwdata", "usb.ids"]
GUEST_MODULES = ["usb-common", "usbcore", "usbip-core", "vhci-hcd", "e1000"]


def cache_dir(src, build):
    """Build trees under SOURCE/build share SOURCE/build/vm-cache (the
    suite's two presets download once); VM_E2E_CACHE overrides."""
    if os.environ.get("VM_E2E_CACHE"):
        return os.environ["VM_E2E_CACHE"]
    if os.path.dirname(build) == os.path.join(src, "build"):
        return os.path.join(src, "build", "vm-cache")
    return os.path.join(build, "vm-cache")


class DebCache:
    def __init__(self, cache, work):
        self.cache = cache
        self.debs_dir = os.path.join(cache, "debs")
        self.work = work
        self.allow_stale = False
        self.candidate = {}
        os.makedirs(self.debs_dir, exist_ok=True)
        self._lock = open(os.path.join(cache, ".lock"), "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # one run at a time fills the cache

    def release(self):
        if self._lock:
            self._lock.close()
            self._lock = None

    def _candidates(self, pkgs):
        out = run(["apt-cache", "policy", *pkgs], stderr=subprocess.DEVNULL).stdout
        pkg = None
        for line in out.splitlines():
            if line and not line.startswith(" ") and line.endswith(":"):
                pkg = line[:-1]
            elif "Candidate:" in line and pkg:
                self.candidate[pkg] = line.split()[-1]

    def _fetch(self, pkg):
        ver = self.candidate.get(pkg, "")
        hit = None
        if ver and ver != "(none)":
            fver = ver.replace(":", "%3a")
            hits = sorted(glob.glob(os.path.join(self.debs_dir, f"{pkg}_{fver}_*.deb")))
            if not hits:
                r = run(["apt-get", "download", "-q", f"{pkg}={ver}"], cwd=self.debs_dir)
                with open(os.path.join(self.work, f"apt-{pkg}.log"), "w") as f:
                    f.write(r.stdout)
                if r.returncode != 0:
                    log(f"apt-get download {pkg}={ver} failed (see {self.work}/apt-{pkg}.log)")
                hits = sorted(glob.glob(os.path.join(self.debs_dir, f"{pkg}_{fver}_*.deb")))
            hit = hits[0] if hits else None
        if hit is None and self.allow_stale:
            hits = glob.glob(os.path.join(self.debs_dir, f"{pkg}_*.deb"))
            if hits:
                hit = sorted(hits, key=_version_key)[-1]
                log(f"using cached {os.path.basename(hit)} (candidate {ver or 'unknown'} "
                    "not downloadable)")
        return hit

    def _fetch_all(self):
        out = run(["apt-cache", "depends", "linux-image-amd64"], stderr=subprocess.DEVNULL).stdout
        m = re.search(r"Depends: (linux-image-[0-9]\S*)", out)
        kpkg = m.group(1) if m else None
        if kpkg is None and self.allow_stale:
            names = [re.match(r"(linux-image-[0-9][^_]*-amd64)_", os.path.basename(p))
                     for p in glob.glob(os.path.join(self.debs_dir, "linux-image-*.deb"))]
            names = sorted({n.group(1) for n in names if n}, key=_version_key)
            kpkg = names[-1] if names else None
        if kpkg is None:
            return None, "linux-image-amd64 (cannot resolve the metapackage)"
        pkgs = [kpkg, *PACKAGES]
        self._candidates(pkgs)
        debs = []
        for pkg in pkgs:
            hit = self._fetch(pkg)
            if hit is None:
                return None, pkg
            debs.append(hit)
        return debs, None

    def fetch(self):
        """The .debs of the guest (kernel first); downloads what is missing."""
        debs, missing = self._fetch_all()
        if debs is None:
            # No or stale package lists: refresh them once (as root), then
            # accept a cached older version as a last resort.
            if os.geteuid() == 0:
                log(f"cannot fetch {missing}; running apt-get update once and retrying")
                r = run(["apt-get", "update", "-q"])
                with open(os.path.join(self.work, "apt-update.log"), "w") as f:
                    f.write(r.stdout)
            self.allow_stale = True
            debs, missing = self._fetch_all()
            if debs is None:
                raise Failure(f"cannot apt-get download '{missing}' and no cached copy in "
                              f"{self.debs_dir} (is Debian's archive reachable? run 'apt-get "
                              "update', as scripts/bootstrap.sh does)")
        log("packages: " + " ".join(os.path.basename(d) for d in debs))
        if not self.allow_stale:
            for f in glob.glob(os.path.join(self.debs_dir, "*.deb")):
                if f not in debs:
                    os.unlink(f)  # superseded: the archive moved on
        return debs

    def unpack(self, debs):
        """The guest files of this package set, unpacked once: returns the
        directory (vmlinuz, kernel-version, modules/*.ko + order, bin/,
        usb.ids)."""
        key = hashlib.sha256("".join(os.path.basename(d) + "\n" for d in debs)
                             .encode()).hexdigest()[:16]
        guest = os.path.join(self.cache, f"guest-{key}")
        if os.path.isfile(os.path.join(guest, ".complete")):
            return guest
        log(f"unpacking packages into {guest}")
        tmp = guest + ".tmp"
        shutil.rmtree(guest, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        x = os.path.join(tmp, "x")
        g = os.path.join(tmp, "g")
        os.makedirs(x)
        os.makedirs(os.path.join(g, "modules"))
        os.makedirs(os.path.join(g, "bin"))
        for d in debs:
            if run(["dpkg", "-x", d, x]).returncode != 0:
                raise Failure(f"dpkg -x {os.path.basename(d)} failed")
        kvers = sorted(os.listdir(os.path.join(x, "lib", "modules")))
        kver = kvers[0] if kvers else ""
        if not kver or not os.path.isfile(os.path.join(x, "boot", f"vmlinuz-{kver}")):
            raise Failure(f"no kernel image in {os.path.basename(debs[0])}")
        shutil.copy(os.path.join(x, "boot", f"vmlinuz-{kver}"), os.path.join(g, "vmlinuz"))
        with open(os.path.join(g, "kernel-version"), "w") as f:
            f.write(kver + "\n")
        order = module_order(os.path.join(x, "lib", "modules", kver, "kernel"), GUEST_MODULES,
                             os.path.join(g, "modules"))
        with open(os.path.join(g, "modules", "order"), "w") as f:
            f.write("".join(m + "\n" for m in order))
        shutil.copy(os.path.join(x, "bin", "busybox"), os.path.join(g, "bin", "busybox"))
        shutil.copy(os.path.join(x, "usr", "sbin", "usbip"), os.path.join(g, "bin", "usbip"))
        shutil.copy(os.path.join(x, "usr", "bin", "lsusb"), os.path.join(g, "bin", "lsusb"))
        ids = None
        for root, _dirs, files in os.walk(x):
            if "usb.ids" in files and os.path.isfile(os.path.join(root, "usb.ids")) \
                    and not os.path.islink(os.path.join(root, "usb.ids")):
                ids = os.path.join(root, "usb.ids")
                break
        if ids is None:
            raise Failure("no usb.ids in the hwdata/usb.ids packages")
        shutil.copy(ids, os.path.join(g, "usb.ids"))
        with open(os.path.join(g, "packages"), "w") as f:
            f.write("".join(os.path.basename(d) + "\n" for d in debs))
        shutil.rmtree(x)
        os.rename(g, guest)
        os.rmdir(tmp)
        open(os.path.join(guest, ".complete"), "w").close()
        for old in glob.glob(os.path.join(self.cache, "guest-*")):
            if old != guest:
                shutil.rmtree(old, ignore_errors=True)  # useless once the archive moved on
        return guest


def _version_key(path):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", os.path.basename(path))]


def module_order(kernel_dir, wanted, out_dir):
    """Copies each wanted module and its dependencies (each module's own
    `modinfo -F depends`: the package ships no modules.dep) uncompressed
    into out_dir; returns the names in load order."""
    index = {}
    for root, _dirs, files in os.walk(kernel_dir):
        for f in files:
            m = re.match(r"(.+?)\.ko(\.xz|\.zst|\.gz)?$", f)
            if m:
                index.setdefault(m.group(1).replace("_", "-"), os.path.join(root, f))
    order = []

    def add(name):
        key = name.replace("_", "-")
        if key in order:
            return
        path = index.get(key)
        if path is None:
            raise Failure(f"module {name} not found in the kernel package")
        deps = run(["modinfo", "-F", "depends", path]).stdout.strip()
        for dep in filter(None, deps.replace(",", " ").split()):
            add(dep)
        dest = os.path.join(out_dir, key + ".ko")
        if path.endswith(".ko"):
            shutil.copy(path, dest)
        elif path.endswith(".ko.xz"):
            with lzma.open(path) as fi, open(dest, "wb") as fo:
                shutil.copyfileobj(fi, fo)
        elif path.endswith(".ko.gz"):
            import gzip
            with gzip.open(path) as fi, open(dest, "wb") as fo:
                shutil.copyfileobj(fi, fo)
        else:  # .ko.zst: no zstd in the standard library
            with open(dest, "wb") as fo:
                if subprocess.run(["zstd", "-qdc", path], stdout=fo, check=False).returncode:
                    raise Failure(f"cannot decompress {path} (install 'zstd')")
        order.append(key)

    for m in wanted:
        add(m)
    return order

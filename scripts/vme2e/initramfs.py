"""The guest's initramfs: a staging directory filled with busybox, the
modules, tools with the shared libraries `ldd` finds on this host (host and
guest are both Debian 12), packed as an uncompressed newc cpio (nothing to
decompress under TCG)."""
import os
import re
import shutil
import stat

from .util import Failure, log, run

DIRS = ["bin", "sbin", "usr/bin", "usr/sbin", "usr/share/hwdata", "usr/share/misc",
        "lib/modules", "e2e", "etc", "proc", "sys", "dev", "tmp", "run", "var"]


class Stage:
    def __init__(self, root):
        self.root = root
        shutil.rmtree(root, ignore_errors=True)
        for d in DIRS:
            os.makedirs(os.path.join(root, d), exist_ok=True)

    def path(self, dest):
        return os.path.join(self.root, dest.lstrip("/"))

    def copy(self, src, dest, mode=None):
        p = self.path(dest)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        shutil.copy(src, p)
        if mode is not None:
            os.chmod(p, mode)

    def text(self, dest, content, mode=0o644):
        p = self.path(dest)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(p, mode)

    def symlink(self, target, dest):
        p = self.path(dest)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.symlink(target, p)

    def install_elf(self, src, dest=None):
        """A dynamic executable or shared library and every library ldd
        finds for it."""
        dest = dest or src
        if not (os.path.isfile(src) and os.access(src, os.R_OK)):
            raise Failure(f"{src} is missing or not readable")
        self.copy(src, dest)
        r = run(["ldd", src])
        if r.returncode != 0:
            raise Failure(f"ldd {src} failed: {r.stdout}")
        if "not found" in r.stdout:
            raise Failure(f"ldd {src}: a shared library is missing on this host:\n{r.stdout}")
        for line in r.stdout.splitlines():
            m = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
            if m and not os.path.exists(self.path(m.group(1))):
                p = self.path(m.group(1))
                os.makedirs(os.path.dirname(p), exist_ok=True)
                shutil.copy(os.path.realpath(m.group(1)), p)

    def pack(self, out):
        with open(out, "wb") as f:
            write_newc(self.root, f)
        log(f"initramfs: {os.path.getsize(out) // 1024} KiB")


def _newc_header(ino, mode, nlink, size, namesize, mtime=0):
    fields = [ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, namesize, 0]
    return ("070701" + "".join(f"{v:08x}" for v in fields)).encode()


def _pad(f, n):
    if n % 4:
        f.write(b"\0" * (4 - n % 4))


def write_newc(root, f):
    """The tree under root as a newc ("070701") archive, owned by root:root,
    sorted, mtime 0: the same tree gives the same bytes."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            full = os.path.join(dirpath, n)
            entries.append(os.path.relpath(full, root))
    ino = 1
    for rel in sorted(entries):
        full = os.path.join(root, rel)
        st = os.lstat(full)
        name = rel.encode() + b"\0"
        if stat.S_ISLNK(st.st_mode):
            data = os.readlink(full).encode()
        elif stat.S_ISREG(st.st_mode):
            with open(full, "rb") as fi:
                data = fi.read()
        else:
            data = b""
        f.write(_newc_header(ino, st.st_mode, 2 if stat.S_ISDIR(st.st_mode) else 1, len(data),
                             len(name)))
        f.write(name)
        _pad(f, 110 + len(name))
        f.write(data)
        _pad(f, len(data))
        ino += 1
    name = b"TRAILER!!!\0"
    f.write(_newc_header(0, 0, 1, 0, len(name)))
    f.write(name)
    _pad(f, 110 + len(name))

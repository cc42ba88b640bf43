"""Small shared pieces of the VM end-to-end test: logging, failures, tools."""
import os
import shutil
import subprocess
import time

T0 = time.monotonic()


class Failure(Exception):
    """The run cannot go on; the message says why (and what to install)."""


def log(msg):
    print(f"vm-e2e: [+{int(time.monotonic() - T0):3d}s] {msg}", flush=True)


def elapsed():
    return int(time.monotonic() - T0)


def need(cmd, package):
    """A missing tool fails the test with the Debian package to install."""
    path = shutil.which(cmd)
    if path is None:
        raise Failure(f"'{cmd}' not found: install the Debian package '{package}' "
                      "(scripts/bootstrap.sh does)")
    return path


def run(argv, **kw):
    """subprocess.run with text output captured, never raising on status."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    kw.setdefault("text", True)
    return subprocess.run(argv, check=False, **kw)


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)

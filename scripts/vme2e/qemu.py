"""The QEMU runner: a throwaway guest (TCG, one CPU, e1000 on user-mode
networking, serial console to a file) booted on Debian's kernel and the
initramfs, waited for (bounded) until it powers off."""
import os
import subprocess
import time

from .util import Failure, log


def run_vm(kernel, initramfs, console, qemu_log, mem, limit):
    """Boots and waits; returns the guest's seconds. Fails when it did not
    power off within limit or QEMU failed."""
    t1 = time.monotonic()
    log(f"booting the guest (TCG, 1 CPU, {mem} MiB, limit {limit} s)")
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-nodefaults", "-no-user-config",
            "-nographic", "-monitor", "none", "-machine", "pc", "-cpu", "max", "-m", str(mem),
            "-smp", "1", "-no-reboot", "-kernel", kernel, "-initrd", initramfs, "-append",
            "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off",
            "-netdev", "user,id=n0", "-device", "e1000,netdev=n0,romfile=",
            "-serial", f"file:{console}"]
    with open(qemu_log, "w") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=limit)
        except BaseException as e:  # the limit, or a signal: no guest is left behind
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if not isinstance(e, subprocess.TimeoutExpired):
                raise
            secs = int(time.monotonic() - t1)
            log(f"guest ran {secs} s (killed)")
            raise Failure(f"the guest did not power off within {limit} s")
    secs = int(time.monotonic() - t1)
    log(f"guest ran {secs} s (qemu exit {rc})")
    if rc != 0:
        with open(qemu_log) as f:
            raise Failure(f"qemu-system-x86_64 exited with {rc}: {f.read()}")
    return secs


def console_text(console):
    """The console without carriage returns ("" if there is none)."""
    if not os.path.exists(console):
        return ""
    with open(console, "rb") as f:
        return f.read().decode("utf-8", "replace").replace("\r", "")

"""The live-control pass (issue 15), host side: scanemu instances with a
control socket (`--control`), `scanemu ctl` driven at the moments the guest
asks for, the event stream of `scanemu ctl watch`, and the reference scans
the guest's are compared with.

The guest (scripts/vm/live.sh) asks for an action by connecting to a small
TCP port here (10.0.2.2:PORT from the guest) and sending one word from a
fixed set (`unplug`, `plug`, `unplug-twin`); the answer, one line, comes once the action is
done, so neither side waits on a clock. docs/vm-e2e.md, "The live-control
pass"."""
import json
import os
import re
import socket
import subprocess
import threading
import time

from . import checks, host
from .util import Failure, log, run

UNPLUG_BUSID = "1-1"
TWIN_BUSIDS = ["1-1", "1-2"]
TWIN_UNPLUG = "1-2"  # unplugged while both are attached and idle


class GuestCtl:
    """A loopback TCP listener for the guest's requests: one line in, the
    handler's one line out, then the connection is closed. Handlers run on
    the listener's thread, one request at a time."""

    def __init__(self, handlers):
        self.handlers = handlers
        self.requests = []  # (word, reply, monotonic seconds)
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with c:
                c.settimeout(30)
                data = b""
                try:
                    while b"\n" not in data and len(data) < 256:
                        chunk = c.recv(256)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    continue
                word = data.split(b"\n")[0].decode("ascii", "replace").strip()
                fn = self.handlers.get(word)
                try:
                    reply = fn() if fn else f"ok=0 error=unknown-request:{word[:40]}"
                except Exception as e:  # reported to the guest and recorded, never raised
                    reply = f"ok=0 error={type(e).__name__}"
                    log(f"live: request '{word}' failed: {e}")
                self.requests.append((word, reply, time.monotonic()))
                try:
                    c.sendall((reply + "\n").encode())
                except OSError:
                    pass

    def close(self):
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()


class Watch:
    """`scanemu ctl SOCKET watch`: every event of every device, one JSON
    object a line, into a file; started before the guest boots."""

    def __init__(self, scanemu, sock, path):
        self.path = path
        out = open(path, "w")
        self.p = subprocess.Popen([scanemu, "ctl", sock, "watch"], stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        for _ in range(100):
            if '"watching":true' in self.text() or self.p.poll() is not None:
                break
            time.sleep(0.1)
        if '"watching":true' not in self.text():
            raise Failure(f"scanemu ctl {sock} watch did not start: {self.text()}")

    def text(self):
        with open(self.path) as f:
            return f.read()

    def events(self):
        out = []
        for line in self.text().splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "event" in obj:
                out.append(obj)
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Live:
    """The pass's host half; Full (vm_e2e.py) calls references(), stage()
    (which returns the guest's /e2e/conf entries), after() and close()."""

    def __init__(self, full):
        self.f = full
        self.ctl = None
        self.watch = None
        self.info = {"requests": []}
        self.unplug_args = list(full.detach_args)
        # The twins scan without --seed: each device's own seed decides its
        # pages, so the digests say which device answered.
        self.twin_args = ["-v", "--pages", "1", "--mode", "gray", "--dpi", "100"]
        s = int(full.seed)
        self.twin_seeds = [str(s + 11), str(s + 22)]

    def _sock(self, name):
        path = os.path.join(self.f.work, f"ctl-{name}.sock")
        if len(path) > 100:
            raise Failure(f"control socket path too long for sun_path: {path}")
        return path

    def references(self):
        f = self.f
        self.detach_yaml = os.path.join(f.work, "vm-detach.yaml")  # written by Full
        self.fast = os.path.join(f.scenarios, "clean-fast.yaml")
        if not os.path.isfile(self.fast):
            raise Failure(f"missing fixture {self.fast}")
        self.emu_twin = []
        for seed in self.twin_seeds:
            self.emu_twin += ["--device", f.profile("default"), "--seed", seed]
        self.emu_twin += ["--scenario", os.path.join(f.scenarios, "clean.yaml"), "--no-timing"]
        log("host reference scans (live control: twins, replug)")
        port = f.emus.start("reftwin", *self.emu_twin)
        self.twin_exports = host.exports(port)
        for busid in TWIN_BUSIDS:
            f.refs[f"twin-{busid}"] = host.host_scan(f.wiascan, f.work, f"twin-{busid}", port,
                                                     busid, f.default_vp, self.twin_args)
        port = f.emus.start("refreplug", "--device", f.profile("default"), "--scenario",
                            self.fast, "--no-timing")
        f.refs["replug"] = host.host_scan(f.wiascan, f.work, "replug", port, "1-1",
                                          f.default_vp, f.scan_args)

    def stage(self):
        """Starts the instances, the watcher and the guest's request port;
        returns the /e2e/conf entries."""
        f = self.f
        self.sock_u = self._sock("unplug")
        self.sock_t = self._sock("twin")
        self.port_u = f.emus.start("unplug", "--device", f.profile("default"), "--scenario",
                                   self.detach_yaml, "--control", self.sock_u)
        self.port_t = f.emus.start("twin", *self.emu_twin, "--control", self.sock_t)
        _rc, out, err = self._ctl(self.sock_t, "list")
        serials = {}
        try:
            for d in json.loads(out.splitlines()[0])["devices"]:
                serials[d["busid"]] = d["usb"]["serial"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise Failure(f"scanemu ctl {self.sock_t} list: unreadable reply "
                          f"({e}): {out} {err}") from e
        self.watch = Watch(f.scanemu, self.sock_u, os.path.join(f.work, "ctl-unplug.events"))
        self.ctl = GuestCtl({"unplug": self._unplug, "plug": self._plug,
                             "unplug-twin": self._unplug_twin})
        self.info.update(port_unplug=self.port_u, port_twin=self.port_t, vidpid=f.default_vp,
                         twin_exports=host.exports(self.port_t), twin_serials=serials,
                         twin_seeds=dict(zip(TWIN_BUSIDS, self.twin_seeds)),
                         unplug_exports_before=host.exports(self.port_u))
        return {"LIVE_CTL_PORT": self.ctl.port, "LIVE_U_PORT": self.port_u,
                "LIVE_U_BUSID": UNPLUG_BUSID, "LIVE_U_VIDPID": f.default_vp,
                "LIVE_U_ARGS": " ".join(self.unplug_args),
                "LIVE_T_PORT": self.port_t, "LIVE_T_BUSIDS": " ".join(TWIN_BUSIDS),
                "LIVE_T_VIDPID": f.default_vp, "LIVE_T_ARGS": " ".join(self.twin_args),
                "LIVE_T_SERIAL": serials.get(TWIN_BUSIDS[1], ""), "LIVE_T_UNPLUG": TWIN_UNPLUG,
                **{"LIVE_T_SERIAL_" + b.replace("-", "_"): serials.get(b, "")
                   for b in TWIN_BUSIDS}}

    def _ctl(self, *args):
        """scanemu ctl ARGS: (status, stdout, stderr), also appended to
        emu-ctl.log, which the sanitizer check reads with the other logs."""
        r = run([self.f.scanemu, "ctl", *args], stderr=subprocess.PIPE)
        with open(os.path.join(self.f.work, "emu-ctl.log"), "a") as f:
            f.write(f"$ scanemu ctl {' '.join(args)}\n{r.stdout}{r.stderr}[exit {r.returncode}]\n")
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def _unplug(self):
        rc, out, err = self._ctl(self.sock_u, "unplug", UNPLUG_BUSID)
        self.info["unplug"] = {"rc": rc, "reply": out, "stderr": err,
                               "exports_after": host.exports(self.port_u)}
        log(f"live: scanemu ctl unplug {UNPLUG_BUSID}: rc {rc} {out} {err}")
        return f"ok={int(rc == 0)} rc={rc}"

    def _unplug_twin(self):
        rc, out, err = self._ctl(self.sock_t, "unplug", TWIN_UNPLUG)
        self.info["twin_unplug"] = {"rc": rc, "reply": out, "stderr": err,
                                    "exports_after": host.exports(self.port_t)}
        log(f"live: scanemu ctl unplug {TWIN_UNPLUG} (twins): rc {rc} {out} {err}")
        return f"ok={int(rc == 0)} rc={rc}"

    def _plug(self):
        rc, out, err = self._ctl(self.sock_u, "plug", self.f.profile("default"),
                                 "--scenario", self.fast)
        busid = ""
        try:
            busid = json.loads(out.splitlines()[0]).get("busid", "")
        except (ValueError, IndexError, AttributeError):
            pass
        self.info["plug"] = {"rc": rc, "reply": out, "stderr": err, "busid": busid,
                             "exports_after": host.exports(self.port_u)}
        log(f"live: scanemu ctl plug default.yaml: rc {rc} busid {busid or 'none'}")
        ok = rc == 0 and re.fullmatch(r"1-[0-9]+", busid or "")
        return f"ok={int(bool(ok))} rc={rc} busid={busid or 'none'}"

    def after(self, con):
        """Host work that depends on the guest's results: the unplug
        reference of as many pages as the guest kept."""
        f = self.f
        n = checks.field("pages", checks.last_marker(con, "E2E-SCAN", "unplug"))
        if n.isdigit() and int(n) >= 1:
            port = f.emus.start("refunplug", "--device", f.profile("default"), "--scenario",
                                self.detach_yaml, "--no-timing")
            args = list(self.unplug_args)
            if "--pages" in args:
                args[args.index("--pages") + 1] = n
            f.refs["unplug"] = host.host_scan(f.wiascan, f.work, "unplug", port, "1-1",
                                              f.default_vp, args)
        self.close()

    def close(self):
        if self.ctl is not None:
            self.info["requests"] = [(w, r) for w, r, _t in self.ctl.requests]
            self.ctl.close()
            self.ctl = None
        if self.watch is not None:
            self.watch.stop()
            self.info["events"] = self.watch.events()
            self.watch = None

"""The checks of a full run, each with a stable id (one CTest test each:
vm_e2e.<id>), evaluated on the host from the guest console's E2E- lines and
the host's reference scans. A check returns (ok, description, details)."""
import glob
import json
import os
import re

A_BUSIDS = ["1-1", "1-2"]
IPP_CASES = ["escl", "mfp", "jam3"]
ESCL_VIDPID = "1209:0006"
MFP_VIDPID = "1209:0005"
STATUS_RE = re.compile(r"(S_OK|WIA_(?:ERROR|STATUS)_[A-Z_]+)")
EVENT_RE = re.compile(r"event [0-9]+ \(page [0-9]+, arg [0-9]+\)")


# ---- the console ----------------------------------------------------------------------

def markers(console, name):
    """The guest's lines of one kind ("E2E-SCAN ...")."""
    return [line for line in console.splitlines() if line.startswith(name + " ")]


def prefixed(console, prefix):
    """The text after `prefix` of every line that starts with it."""
    return [line[len(prefix):] for line in console.splitlines() if line.startswith(prefix)]


def field(key, line):
    """key=value from a marker line ("" if absent)."""
    m = re.search(r"(?:^|\s)" + re.escape(key) + r"=(\S*)", line or "")
    return m.group(1) if m else ""


def last_marker(console, name, with_name):
    found = [m for m in markers(console, name) if f"name={with_name} " in m + " "]
    return found[-1] if found else ""


# ---- the checks -------------------------------------------------------------------------

class Ctx:
    """What the checks read: the console, the host references, the run."""

    def __init__(self, console, refs, info):
        self.console = console
        self.refs = refs  # name -> result dict
        self.info = info  # a_exports, profile strings, ports, stop failures, log files


def _ok(cond, desc, details=""):
    return bool(cond), desc, details


def check_modules(c):
    bad = [m for m in c.info["modules"]
           if not any(f"name={m} rc=0" in x for x in markers(c.console, "E2E-MODULE"))]
    return _ok(not bad, "guest loaded the modules " + " ".join(c.info["modules"]),
               "not loaded: " + " ".join(bad) if bad else "")


def check_network(c):
    return _ok(any("rc=0 10.0.2.15/24" in x for x in markers(c.console, "E2E-NET")),
               "guest network up (10.0.2.15/24 on e1000)")


def check_list(c):
    return _ok(any("rc=0" in x for x in markers(c.console, "E2E-LIST-RC")),
               f"guest: usbip --tcp-port {c.info['port_a']} list -r 10.0.2.2")


def _a_vidpid(c, busid):
    return dict(c.info["a_exports"]).get(busid, "?")


def a_listed(busid):
    def f(c):
        vp = _a_vidpid(c, busid)
        rx = re.compile(r"^ *" + re.escape(busid) + r": .*\(" + re.escape(vp) + r"\)$")
        return _ok(any(rx.match(x) for x in prefixed(c.console, "E2E-LIST | ")),
                   f"guest: usbip list shows {busid} ({vp})")
    return f


def a_attach(busid):
    def f(c):
        return _ok(any(x.startswith(f"E2E-ATTACH port={c.info['port_a']} busid={busid} rc=0")
                       for x in c.console.splitlines()), f"guest: usbip attach -b {busid}")
    return f


def a_enum(busid):
    def f(c):
        vp = _a_vidpid(c, busid)
        return _ok(any(x.startswith(f"E2E-ENUM vidpid={vp} rc=0") for x in c.console.splitlines()),
                   f"guest: usbcore enumerated {vp} and configured it")
    return f


def a_lsusb(busid):
    def f(c):
        vp = _a_vidpid(c, busid)
        return _ok(any(re.match(r"Bus [0-9]* Device [0-9]*: ID " + vp, x)
                       for x in prefixed(c.console, "E2E-LSUSB | ")), f"guest: lsusb lists {vp}")
    return f


def _lsusbv(c, vp):
    return "\n".join(prefixed(c.console, f"E2E-LSUSBV {vp} | "))


def _patterns(text, pats, what):
    missing = [p for p in pats if not re.search(p, text, re.M)]
    return [f"{what}: no line matching /{p}/" for p in missing]


def a_descriptors(busid):
    def f(c):
        vp = _a_vidpid(c, busid)
        vid, pid = vp.split(":") if ":" in vp else ("?", "?")
        miss = _patterns(_lsusbv(c, vp), [
            f"idVendor +0x{vid}", f"idProduct +0x{pid}", r"bInterfaceClass +255",
            r"bEndpointAddress +0x01 +EP 1 OUT", r"bEndpointAddress +0x81 +EP 1 IN",
            r"bEndpointAddress +0x82 +EP 2 IN", r"Transfer Type +Bulk",
            r"Transfer Type +Interrupt", r"wMaxPacketSize +0x0200", r"wMaxPacketSize +0x0010"],
            f"lsusb -v {vp}")
        return _ok(not miss, f"guest: lsusb -v {vp} shows our descriptors (class 255, bulk "
                   "0x01/0x81, interrupt 0x82)", "\n".join(miss))
    return f


def a_strings(busid):
    def f(c):
        vp = _a_vidpid(c, busid)
        want = c.info["strings"].get(vp, {})
        v = _lsusbv(c, vp)
        miss = [f"lsusb -v {vp}: {key} is not '{val}'" for key, val in want.items()
                if not re.search(re.escape(key) + r" +[0-9]+ " + re.escape(val) + "$", v, re.M)]
        return _ok(not miss, f"guest: lsusb -v {vp} strings are the profile's", "\n".join(miss))
    return f


def _compare(c, name, ref_name=None):
    """Guest E2E-SCAN against the host's usbip-transport reference."""
    g = last_marker(c.console, "E2E-SCAN", name)
    r = c.refs.get(ref_name or name)
    if not g or r is None:
        return False, f"{name}: guest scan ran", f"no E2E-SCAN line for {name}" if not g else \
            f"no host reference {ref_name or name}"
    details = []
    for key in ("rc", "pages", "tiff_valid", "sha256"):
        if field(key, g) != r[key]:
            details.append(f"{name}: {key} guest={field(key, g)} host={r[key]}")
    out = "\n".join(prefixed(c.console, f"E2E-OUT {name} | "))
    st = STATUS_RE.findall(out)
    gs = st[-1] if st else "none"
    if gs != r["status"]:
        details.append(f"{name}: status guest={gs} host={r['status']}")
    return (not details, f"{name}: libusb in the guest = usbip transport on the host (rc "
            f"{r['rc']}, {r['status']}, {r['pages']} pages, sha256 {r['sha256'][:12]}…)",
            "\n".join(details))


def a_ref(busid):
    def f(c):
        r = c.refs.get(f"a-{busid}", {})
        return _ok(r.get("rc") == "0" and r.get("pages") == "2",
                   f"a-{busid}: host reference scanned 2 pages successfully")
    return f


def a_scan(busid):
    return lambda c: _compare(c, f"a-{busid}")


def detach_point(c):
    dp = (markers(c.console, "E2E-DETACH-POINT") or [""])[-1]
    return _ok("page1_seen=1" in dp and "still_running=1" in dp,
               f"detach: usbip detach issued while the scan was running, after page 1 completed "
               f"({dp})")


def detach_ok(c):
    return _ok(any(re.match(rf"E2E-DETACH port={c.info['port_detach']} busid=1-1 .*rc=0", x)
                   for x in c.console.splitlines()), "detach: usbip detach -p succeeded")


def detach_status(c):
    return _ok(any("WIA_ERROR_DEVICE_COMMUNICATION" in x
                   for x in prefixed(c.console, "E2E-OUT detach | ")),
               "detach: wiascan reported WIA_ERROR_DEVICE_COMMUNICATION")


def detach_exit(c):
    d = last_marker(c.console, "E2E-SCAN", "detach")
    return _ok(d and field("rc", d) not in ("0", "124"),
               f"detach: wiascan exited non-zero on its own (rc {field('rc', d)})")


def detach_tiff(c):
    d = last_marker(c.console, "E2E-SCAN", "detach")
    pages = int(field("pages", d) or 0)
    return _ok(field("tiff_valid", d) == "1" and pages >= 1,
               f"detach: the TIFF is valid (tiffinfo) with {pages} completed page(s)")


def detach_pages(c):
    d = last_marker(c.console, "E2E-SCAN", "detach")
    r = c.refs.get("detach")
    n = field("pages", d)
    return _ok(r is not None and field("sha256", d) == r["sha256"],
               f"detach: its {n} page(s) are byte-identical to a {n}-page scan over the usbip "
               "transport")


def stall_ref(c):
    r = c.refs.get("stall", {})
    return _ok(r.get("rc") != "3" and int(r.get("pages", "0")) >= 1,
               "stall: host reference scan reached the device and wrote pages")


def stall_cleared(c):
    return _ok(any("stall" in x.lower() for x in prefixed(c.console, "E2E-OUT stall | ")),
               "stall: the guest's wiascan met the STALL and cleared the halt through usbcore")


def jam_ref(c):
    r = c.refs.get("jam", {})
    return _ok(r.get("status") == "WIA_ERROR_PAPER_JAM",
               "jam: host reference ends with WIA_ERROR_PAPER_JAM")


def jam_event(c):
    g = EVENT_RE.findall("\n".join(prefixed(c.console, "E2E-OUT jam | ")))
    r = EVENT_RE.findall(c.refs.get("jam", {}).get("log", ""))
    return _ok(g and g == r, "jam: the interrupt IN event reached the guest's wiascan as on "
               f"the host ({' '.join(g) or 'none'} / {' '.join(r) or 'none'})")


def jam_pages(c):
    g = last_marker(c.console, "E2E-SCAN", "jam")
    return _ok(field("sha256", g) == c.refs.get("a-1-1", {}).get("sha256"),
               "jam: the 2 pages kept are byte-identical to the clean 2-page scan")


# ---- IPP-USB ------------------------------------------------------------------------------

def ipp_up(case):
    def f(c):
        up = last_marker(c.console, "E2E-IPPUSB-UP", case)
        return _ok(field("rc", up) == "0", f"ipp-usb {case}: ipp-usb claimed the IPP-USB "
                   f"interfaces and served eSCL on localhost (port={field('port', up) or 'none'})")
    return f


def ipp_lsusb(vp):
    def f(c):
        v = _lsusbv(c, vp)
        miss = _patterns(v, [r"bInterfaceClass +7( |$)", r"bInterfaceSubClass +1( |$)",
                             r"bInterfaceProtocol +4( |$)", r"IPP Printer Descriptor",
                             r"wBasicCapabilities +0x0002 +Scan", r"iManufacturer +[0-9]+ scanemu",
                             r"iSerial +[0-9]+ SCANEMU-"], f"lsusb -v {vp}")
        if vp == MFP_VIDPID:
            if not re.search(r"bInterfaceClass +255", v):
                miss.append(f"lsusb -v {vp}: no vendor interface")
            if len(re.findall(r"bInterfaceProtocol +4( |$)", v, re.M)) != 2:
                miss.append(f"lsusb -v {vp}: not 2 IPP-USB interfaces")
        return _ok(not miss, f"ipp-usb: lsusb -v {vp} shows the IPP-USB interfaces (7/1/4, IPP "
                   "Printer Descriptor, Scan) and strings", "\n".join(miss))
    return f


def escl_compare(case):
    def f(c):
        g = last_marker(c.console, "E2E-ESCL", case)
        r = c.refs.get(f"escl-{case}")
        if not g or r is None:
            return False, f"ipp-usb {case}: guest scan ran", "no E2E-ESCL line" if not g else \
                "no host reference"
        details = [f"{case}: {k} guest={field(k, g)} host={r[k]}" for k in ("rc", "pages", "sha256")
                   if field(k, g) != r[k]]
        return (not details, f"ipp-usb {case}: scanimage through ipp-usb in the guest = through "
                f"--escl-listen here (rc {r['rc']}, {r['pages']} pages, page digests equal)",
                "\n".join(details))
    return f


def escl_ref(c):
    r = c.refs.get("escl-escl", {})
    return _ok(r.get("rc") == "0" and r.get("pages") == "3",
               "ipp-usb escl: host reference scanned the 3-page ADF job")


def jam3_ref(c):
    r = c.refs.get("escl-jam3", {})
    return _ok(r.get("pages") == "2" and "Document feeder jammed" in r.get("err", ""),
               "ipp-usb jam3: host reference ends with 'Document feeder jammed' after 2 pages")


def jam3_message(c):
    return _ok(any("Document feeder jammed" in x for x in prefixed(c.console, "E2E-ESCL-OUT jam3 | ")),
               "ipp-usb jam3: scanimage in the guest says 'Document feeder jammed'")


def _first(sums, n):
    return ",".join(sums.split(",")[:n]) if n else ""


def jam3_pages(c):
    g = last_marker(c.console, "E2E-ESCL", "jam3")
    return _ok(field("sha256", g) == _first(c.refs.get("escl-escl", {}).get("sha256", ""), 2),
               "ipp-usb jam3: the 2 pages before the jam are the clean job's first 2")


def ipp_detach_point(c):
    dp = (markers(c.console, "E2E-IPP-DETACH-POINT") or [""])[-1]
    return _ok("page1_seen=1" in dp and "still_running=1" in dp,
               f"ipp-usb detach: usbip detach while scanimage ran, after page 1 ({dp})")


def ipp_detach_exit(c):
    d = last_marker(c.console, "E2E-ESCL", "detach")
    return _ok(d and field("rc", d) not in ("0", "124", "143"),
               f"ipp-usb detach: scanimage ended with an error on its own (rc {field('rc', d)})")


def ipp_detach_pages(c):
    d = last_marker(c.console, "E2E-ESCL", "detach")
    n = int(field("pages", d) or 0)
    return _ok(n >= 1 and field("sha256", d) == _first(
        c.refs.get("escl-detach", {}).get("sha256", ""), n),
        f"ipp-usb detach: the {n} page(s) written before it are the clean job's")


def ipp_detach_log(c):
    return _ok(any(re.search(r"LIBUSB_ERROR|no such device|device .*(gone|removed)", x, re.I)
                   for x in prefixed(c.console, "E2E-IPPLOG detach | ")),
               "ipp-usb detach: ipp-usb logged the device gone")


# ---- live control (issue 15): scanemu ctl unplug/plug, identical twins ------------------------
# The guest's half is scripts/vm/live.sh, the host's scripts/vme2e/live.py; c.info["live"]
# holds what the host saw (scanemu ctl replies, usbip list, the watch events).

def _live(c):
    return c.info.get("live", {})


def _busid_listed(exports, busid):
    return any(b == busid for b, _vp in exports)


def unplug_point(c):
    dp = (markers(c.console, "E2E-UNPLUG-POINT") or [""])[-1]
    return _ok("page1_seen=1" in dp and "still_running=1" in dp,
               "unplug: scanemu ctl unplug requested while the guest's scan ran, page 1 complete "
               f"in the guest ({dp})")


def unplug_ctl(c):
    u = _live(c).get("unplug", {})
    reply = (markers(c.console, "E2E-LIVE-REPLY req=unplug") or [""])[-1]
    return _ok(u.get("rc") == 0 and '"ok":true' in u.get("reply", "") and "ok=1" in reply,
               "unplug: scanemu ctl SOCKET unplug 1-1 answered ok while the guest had it attached",
               f"host: {u}\nguest: {reply}")


def unplug_events(c):
    """The device's own account (scanemu ctl watch): job 1 had released
    bands of page 2 or later, ended canceled, and the busid was unplugged."""
    ev = _live(c).get("events", [])
    i_unplug = next((i for i, e in enumerate(ev) if e.get("event") == "unplugged"
                     and e.get("busid") == "1-1"), None)
    before = ev[:i_unplug] if i_unplug is not None else []
    late_band = max((e.get("page", 0) for e in before if e.get("event") == "band"
                     and e.get("job") == 1), default=0)
    ended = [e for e in before if e.get("event") == "job_ended" and e.get("job") == 1]
    status = ended[-1].get("status") if ended else "none"
    return _ok(i_unplug is not None and late_band >= 2 and status == "canceled",
               "unplug: scanemu ctl watch saw job 1 mid-scan (bands of page "
               f"{late_band}), then job_ended {status} and unplugged 1-1",
               "\n".join(json.dumps(e) for e in ev if e.get("event") != "band")[-3000:])


def unplug_kernel(c):
    d = (markers(c.console, "E2E-UNPLUG-DEV") or [""])[-1]
    dev = field("sysfs", d)
    dm = prefixed(c.console, "E2E-UNPLUG-DMESG | ")
    disc = [x for x in dm if re.search(r"usb " + re.escape(dev) + r": USB disconnect", x)]
    closed = [x for x in dm if "vhci_hcd: connection closed" in x]
    return _ok(dev and disc and closed, "unplug: the guest kernel logged 'vhci_hcd: connection "
               f"closed' and 'usb {dev or '?'}: USB disconnect' after the unplug",
               "\n".join(dm[-30:]))


def unplug_gone(c):
    g = (markers(c.console, "E2E-UNPLUG-GONE") or [""])[-1]
    vp = c.info.get("live", {}).get("vidpid") or "1209:0001"
    lsusb = prefixed(c.console, "E2E-UNPLUG-LSUSB | ")
    still = [x for x in lsusb if "ID " + vp in x]
    return _ok(field("rc", g) == "0" and field("present", g) == "0" and lsusb and not still,
               f"unplug: the device left the guest (sysfs {field('sysfs', g) or '?'} gone, not in "
               "lsusb)", f"{g}\n" + "\n".join(still))


def unplug_status(c):
    d = last_marker(c.console, "E2E-SCAN", "unplug")
    out = prefixed(c.console, "E2E-OUT unplug | ")
    comm = any("WIA_ERROR_DEVICE_COMMUNICATION" in x for x in out)
    return _ok(comm and field("rc", d) not in ("", "0", "124", "255"),
               "unplug: the guest's wiascan ended on its own with WIA_ERROR_DEVICE_COMMUNICATION "
               f"(rc {field('rc', d)})", "\n".join(out[-15:]))


def unplug_tiff(c):
    d = last_marker(c.console, "E2E-SCAN", "unplug")
    pages = int(field("pages", d) or 0)
    r = c.refs.get("unplug")
    return _ok(field("tiff_valid", d) == "1" and pages >= 1 and r is not None
               and r.get("rc") == "0" and field("sha256", d) == r["sha256"],
               f"unplug: the TIFF is valid with {pages} completed page(s), byte-identical to a "
               f"{pages}-page scan over the usbip transport",
               f"guest: {d}\nhost: {host_result(r)}")


def host_result(r):
    return " ".join(f"{k}={r[k]}" for k in r if k not in ("log", "err")) if r else "none"


def unplug_list_host(c):
    lv = _live(c)
    before = lv.get("unplug_exports_before", [])
    after = lv.get("unplug", {}).get("exports_after")
    return _ok(_busid_listed(before, "1-1") and after is not None
               and not _busid_listed(after, "1-1"),
               "unplug: usbip list -r on the host showed 1-1 before, not after",
               f"before {before}, after {after}")


def unplug_list_guest(c):
    lst = prefixed(c.console, "E2E-UNPLUG-LIST | ")
    rc = field("rc", (markers(c.console, "E2E-UNPLUG-LIST-RC") or [""])[-1])
    reached = rc == "0" or any("no exportable devices" in x for x in lst)
    return _ok(reached and not any(re.match(r" *1-1: ", x) for x in lst),
               "unplug: usbip list -r 10.0.2.2 in the guest no longer shows 1-1",
               f"rc {rc}\n" + "\n".join(lst))


def replug_ctl(c):
    p = _live(c).get("plug", {})
    b = p.get("busid", "")
    return _ok(p.get("rc") == 0 and b and _busid_listed(p.get("exports_after", []), b),
               f"replug: scanemu ctl SOCKET plug default.yaml answered ok (busid {b or 'none'}); "
               "usbip list on the host shows it", f"{p}")


def replug_attach(c):
    """After the plug answer: attach of the busid it named, then usbcore's
    enumeration of the device, in that order."""
    lines = c.console.splitlines()
    at = next((i for i, x in enumerate(lines) if x.startswith("E2E-LIVE-REPLY req=plug")), None)
    reply = lines[at] if at is not None else ""
    b = field("busid", reply)
    want = [f"E2E-ATTACH port={_live(c).get('port_unplug')} busid={b} rc=0",
            f"E2E-ENUM vidpid={_live(c).get('vidpid')} rc=0"]
    for x in lines[at:] if at is not None else []:
        if want and x.startswith(want[0]):
            want.pop(0)
    return _ok("ok=1" in reply and not want,
               f"replug: the guest attached the new export {b or '?'} and usbcore configured it",
               f"{reply}\nnot seen: {want}")


def twin_exports(c):
    lv = _live(c)
    ex = lv.get("twin_exports", [])
    ser = lv.get("twin_serials", {})
    vps = {vp for _b, vp in ex}
    return _ok(len(ex) == 2 and len(vps) == 1 and len(set(ser.values())) == 2,
               "twins: one profile exported twice: one VID:PID, distinct serials "
               f"({', '.join(f'{b} {s}' for b, s in sorted(ser.items()))})", f"{ex} {ser}")


def _twin_devs(c):
    """{busid: (busdev, serial)} as the guest found them (by serial, in sysfs)."""
    out = {}
    for m in markers(c.console, "E2E-TWIN-DEV"):
        out[field("busid", m)] = (field("busdev", m), field("serial", m))
    return out


def twin_enum(c):
    devs = _twin_devs(c)
    ser = _live(c).get("twin_serials", {})
    bad = [f"{b}: guest {devs.get(b)} serial want {s}" for b, s in ser.items()
           if b not in devs or devs[b][1] != s or devs[b][0] in ("", "none")]
    enum = any("rc=0" in x for x in markers(c.console, "E2E-TWIN-ENUM"))
    return _ok(enum and not bad and len(devs) == 2,
               "twins: both attached and configured in the guest, each with its own serial "
               f"({', '.join(f'{b} libusb:{d[0]}' for b, d in sorted(devs.items()))})",
               "\n".join(bad))


def twin_refs(c):
    r1, r2 = c.refs.get("twin-1-1", {}), c.refs.get("twin-1-2", {})
    ok = all(r.get("rc") == "0" and r.get("pages") == "1" for r in (r1, r2)) and \
        r1.get("sha256") != r2.get("sha256")
    return _ok(ok, "twins: host reference scans of 1-1 and 1-2 (usbip transport, each device's "
               "own seed) succeed and differ", f"{host_result(r1)}\n{host_result(r2)}")


def twin_ambiguous(c):
    d = last_marker(c.console, "E2E-SCAN", "twin-any")
    out = "\n".join(prefixed(c.console, "E2E-OUT twin-any | "))
    devs = _twin_devs(c)
    miss = [f"libusb:{bd} (serial {s})" for bd, s in devs.values()
            if f"libusb:{bd} (serial {s})" not in out]
    return _ok(field("rc", d) == "2" and len(devs) == 2 and not miss,
               "twins: wiascan --transport libusb:VID:PID refuses (exit 2) and lists both "
               "candidates with their serials", f"rc {field('rc', d)}; missing: {miss}\n{out}")


def twin_scan(busid):
    def f(c):
        name = f"twin-{busid}"
        other = c.refs.get("twin-1-2" if busid == "1-1" else "twin-1-1", {})
        ok, desc, det = _compare(c, name)
        g = field("sha256", last_marker(c.console, "E2E-SCAN", name))
        bd = _twin_devs(c).get(busid, ("?", "?"))[0]
        return (ok and g != other.get("sha256"), f"twins: libusb:{bd} scanned {busid} "
                f"(its seed's page; = the host's scan of {busid}, != the other's)", det)
    return f


def twin_serial(c):
    s = _live(c).get("twin_serials", {}).get("1-2", "?")
    ok, _desc, det = _compare(c, "twin-serial", "twin-1-2")
    return ok, f"twins: libusb:VID:PID,serial={s} scanned 1-2 (= the host's scan of 1-2)", det


def twin_unplug_one(c):
    """scanemu ctl unplug of one twin while both are attached and idle: that
    one leaves the guest (kernel disconnect), the other stays."""
    u = _live(c).get("twin_unplug", {})
    m = (markers(c.console, "E2E-TWIN-UNPLUG") or [""])[-1]
    dev = field("sysfs", m)
    dm = prefixed(c.console, "E2E-TWIN-DMESG | ")
    disc = [x for x in dm if re.search(r"usb " + re.escape(dev) + r": USB disconnect", x)]
    b = field("busid", m)
    after = u.get("exports_after", [])
    return _ok(u.get("rc") == 0 and field("rc", m) == "0" and field("present", m) == "0"
               and field("left", m) == "1" and disc and len(after) == 1
               and not _busid_listed(after, b),
               f"twins: scanemu ctl unplug {b or '?'} with both attached and idle: the guest "
               f"kernel disconnected {dev or '?'}, the other twin stayed",
               f"{m}\nhost: {u}\n" + "\n".join(dm[-20:]))


def twin_after(c):
    ok, _desc, det = _compare(c, "twin-after", "twin-1-1")
    return ok, ("twins: after it, libusb:VID:PID names the one left and scans 1-1 (= the "
                "host's scan of 1-1)"), det


def _live_registry():
    return [("unplug.point", unplug_point), ("unplug.ctl", unplug_ctl),
            ("unplug.events", unplug_events), ("unplug.kernel", unplug_kernel),
            ("unplug.gone", unplug_gone), ("unplug.status", unplug_status),
            ("unplug.tiff", unplug_tiff), ("unplug.list-host", unplug_list_host),
            ("unplug.list-guest", unplug_list_guest), ("replug.ctl", replug_ctl),
            ("replug.attach", replug_attach), ("replug.scan", lambda c: _compare(c, "replug")),
            ("twin.exports", twin_exports), ("twin.enumerated", twin_enum),
            ("twin.references", twin_refs), ("twin.ambiguous", twin_ambiguous),
            ("twin.1-1.busdev", twin_scan("1-1")), ("twin.1-2.busdev", twin_scan("1-2")),
            ("twin.serial", twin_serial), ("twin.unplug-one", twin_unplug_one),
            ("twin.after-unplug", twin_after)]
# ---- wiascan escl+usb (its own IPP-USB client) ------------------------------------------

# The IPP-USB cases wiascan scans through escl+usb in the guest, before
# ipp-usb starts, and where each device is on --escl-listen for the host's
# escl+http reference. The first case is scanned by BUS.DEV too.
WUSB_CASES = ["escl", "jam3"]
WUSB_ESCL_PATH = {"escl": "", "jam3": "/1-3", "detach": "/1-4"}


def _wusb_pages(c, name):
    m = last_marker(c.console, "E2E-WUSB-PAGES", name)
    return field("sha256", m) if m else ""


def wusb_compare(name, ref_name, how):
    """The guest's wiascan escl+usb scan against the host's escl+http one:
    exit status, WIA status, page count, the TIFF and each page's digest."""
    def f(c):
        g = last_marker(c.console, "E2E-SCAN", name)
        r = c.refs.get(ref_name)
        if not g or r is None:
            return False, f"{name}: guest escl+usb scan ran", \
                f"no E2E-SCAN line for {name}" if not g else f"no host reference {ref_name}"
        details = [f"{name}: {k} guest={field(k, g)} host={r[k]}"
                   for k in ("rc", "pages", "tiff_valid", "sha256") if field(k, g) != r[k]]
        if _wusb_pages(c, name) != r["page_sha"]:
            details.append(f"{name}: page digests guest={_wusb_pages(c, name)} "
                           f"host={r['page_sha']}")
        st = STATUS_RE.findall("\n".join(prefixed(c.console, f"E2E-OUT {name} | ")))
        gs = st[-1] if st else "none"
        if gs != r["status"]:
            details.append(f"{name}: status guest={gs} host={r['status']}")
        return (not details, f"{name}: wiascan escl+usb ({how}) in the guest = escl+http through "
                f"--escl-listen here (rc {r['rc']}, {r['status']}, {r['pages']} pages, page "
                "digests equal)", "\n".join(details))
    return f


def wusb_ref(c):
    r = c.refs.get("wusb-escl", {})
    return _ok(r.get("rc") == "0" and r.get("pages") == "3" and r.get("status") == "S_OK",
               "wusb escl: host reference (wiascan escl+http) scanned the 3-page ADF job, S_OK",
               f"rc {r.get('rc')}, {r.get('pages')} pages, {r.get('status')}")


def wusb_jam_ref(c):
    r = c.refs.get("wusb-jam3", {})
    return _ok(r.get("status") == "WIA_ERROR_PAPER_JAM" and r.get("pages") == "2",
               "wusb jam3: host reference (wiascan escl+http) ends WIA_ERROR_PAPER_JAM with 2 pages",
               f"{r.get('status')}, {r.get('pages')} pages")


def wusb_jam_pages(c):
    g = _wusb_pages(c, "wusb-jam3")
    clean = c.refs.get("wusb-escl", {}).get("page_sha", "")
    return _ok(g and g != "none" and g == _first(clean, 2),
               "wusb jam3: the 2 pages the guest kept before the jam are the clean job's first 2",
               f"guest {g} / clean {clean}")


def wusb_detach_point(c):
    dp = (markers(c.console, "E2E-WUSB-DETACH-POINT") or [""])[-1]
    return _ok("page1_seen=1" in dp and "still_running=1" in dp,
               f"wusb detach: usbip detach while wiascan escl+usb ran, after page 1 ({dp})")


def wusb_detach_status(c):
    d = last_marker(c.console, "E2E-SCAN", "wusb-detach")
    out = "\n".join(prefixed(c.console, "E2E-OUT wusb-detach | "))
    st = STATUS_RE.findall(out)
    return _ok(st and st[-1] == "WIA_ERROR_DEVICE_COMMUNICATION" and
               field("rc", d) not in ("", "0", "124", "143"),
               "wusb detach: wiascan escl+usb ended on its own with "
               f"WIA_ERROR_DEVICE_COMMUNICATION (rc {field('rc', d)}, "
               f"{st[-1] if st else 'no status'})")


def wusb_detach_pages(c):
    d = last_marker(c.console, "E2E-SCAN", "wusb-detach")
    n = int(field("pages", d) or 0)
    g = _wusb_pages(c, "wusb-detach")
    ref = c.refs.get("wusb-detach", {}).get("page_sha", "")
    return _ok(field("tiff_valid", d) == "1" and n >= 1 and g == _first(ref, n),
               f"wusb detach: the TIFF is valid (tiffinfo) and its {n} completed page(s) are the "
               "same device's first pages over escl+http", f"guest {g} / host {ref}")


def wusb_busy(c):
    d = last_marker(c.console, "E2E-SCAN", "wusb-busy")
    out = "\n".join(prefixed(c.console, "E2E-OUT wusb-busy | "))
    st = STATUS_RE.findall(out)
    return _ok(d and field("pages", d) == "0" and st and st[-1] == "WIA_ERROR_BUSY" and
               "stop ipp-usb first" in out,
               "wusb busy: escl+usb while ipp-usb holds the interfaces ends WIA_ERROR_BUSY, "
               f"naming ipp-usb (rc {field('rc', d)}, {st[-1] if st else 'no status'})", out)


def wusb_ambiguous(c):
    d = last_marker(c.console, "E2E-SCAN", "wusb-ambiguous")
    out = "\n".join(prefixed(c.console, "E2E-OUT wusb-ambiguous | "))
    cands = re.findall(r"escl\+usb:[0-9]+\.[0-9]+ \(serial [^)]+\)", out)
    return _ok(field("rc", d) == "2" and len(cands) == 2 and "name one with escl+usb:BUS.DEV" in out,
               "wusb two devices: escl+usb without a selector refuses (exit 2) and lists both "
               f"({'; '.join(cands) or 'none listed'})", out)


def _wusb_registry():
    first = WUSB_CASES[0]
    return [("ippusb.wiascan.reference", wusb_ref),
            ("ippusb.wiascan.scan", wusb_compare(f"wusb-{first}", f"wusb-{first}", "VID:PID")),
            ("ippusb.wiascan.busdev", wusb_compare(f"wusb-{first}-bd", f"wusb-{first}", "BUS.DEV")),
            ("ippusb.wiascan.jam3.reference", wusb_jam_ref),
            ("ippusb.wiascan.jam3.scan", wusb_compare("wusb-jam3", "wusb-jam3", "VID:PID, a jam")),
            ("ippusb.wiascan.jam3.pages", wusb_jam_pages),
            ("ippusb.wiascan.any", wusb_compare(f"wusb-{first}-any", f"wusb-{first}",
                                                "no selector")),
            ("ippusb.wiascan.ambiguous", wusb_ambiguous),
            ("ippusb.wiascan.serial", wusb_compare("wusb-serial", f"wusb-{first}",
                                                   "VID:PID,serial=S of one of two")),
            ("ippusb.wiascan.busy", wusb_busy),
            ("ippusb.wiascan.detach.point", wusb_detach_point),
            ("ippusb.wiascan.detach.status", wusb_detach_status),
            ("ippusb.wiascan.detach.pages", wusb_detach_pages)]


# ---- the end ------------------------------------------------------------------------------

def emu_exit(c):
    bad = c.info.get("stop_failed", [])
    return _ok(not bad, "every scanemu instance exited 0 on SIGTERM" +
               (f" (name:status {' '.join(bad)})" if bad else ""))


SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")


def no_sanitizer(c):
    texts = [c.console]
    for pattern in c.info.get("host_logs", []):
        for p in glob.glob(pattern):
            with open(p, errors="replace") as f:
                texts.append(f.read())
    return _ok(not any(SANITIZER_RE.search(t) for t in texts),
               "no sanitizer report in the guest or on the host")


def no_kernel_bug(c):
    return _ok(not re.search(r"Kernel panic|BUG:|WARNING: CPU", c.console),
               "no kernel panic, BUG or WARNING in the guest")


def _registry():
    r = [("setup.modules", check_modules), ("setup.network", check_network),
         ("a.list", check_list)]
    for b in A_BUSIDS:
        r += [(f"a.{b}.listed", a_listed(b)), (f"a.{b}.attach", a_attach(b)),
              (f"a.{b}.enumerated", a_enum(b)), (f"a.{b}.lsusb", a_lsusb(b)),
              (f"a.{b}.descriptors", a_descriptors(b)), (f"a.{b}.strings", a_strings(b))]
    for b in A_BUSIDS:
        r += [(f"a.{b}.reference", a_ref(b)), (f"a.{b}.scan", a_scan(b))]
    r += [("detach.point", detach_point), ("detach.detached", detach_ok),
          ("detach.status", detach_status), ("detach.exit", detach_exit),
          ("detach.tiff", detach_tiff), ("detach.pages", detach_pages),
          ("stall.reference", stall_ref), ("stall.scan", lambda c: _compare(c, "stall")),
          ("stall.cleared", stall_cleared),
          ("jam.reference", jam_ref), ("jam.scan", lambda c: _compare(c, "jam")),
          ("jam.event", jam_event), ("jam.pages", jam_pages)]
    r += [(f"ippusb.{case}.up", ipp_up(case)) for case in IPP_CASES]
    r += [("ippusb.escl.lsusb", ipp_lsusb(ESCL_VIDPID)), ("ippusb.mfp.lsusb", ipp_lsusb(MFP_VIDPID)),
          ("ippusb.escl.reference", escl_ref), ("ippusb.escl.scan", escl_compare("escl")),
          ("ippusb.mfp.scan", escl_compare("mfp")),
          ("ippusb.mfp.native", lambda c: _compare(c, "native-mfp")),
          ("ippusb.jam3.reference", jam3_ref), ("ippusb.jam3.scan", escl_compare("jam3")),
          ("ippusb.jam3.message", jam3_message), ("ippusb.jam3.pages", jam3_pages),
          ("ippusb.detach.point", ipp_detach_point), ("ippusb.detach.exit", ipp_detach_exit),
          ("ippusb.detach.pages", ipp_detach_pages), ("ippusb.detach.log", ipp_detach_log)]
    r += _live_registry()
    r += _wusb_registry()
    r += [("end.scanemu-exit", emu_exit), ("end.sanitizers", no_sanitizer),
          ("end.kernel", no_kernel_bug)]
    return r


REGISTRY = _registry()
IDS = [cid for cid, _f in REGISTRY]


def evaluate(ctx):
    """{id: {ok, description, details}} for every check."""
    out = {}
    for cid, fn in REGISTRY:
        try:
            ok, desc, details = fn(ctx)
        except Exception as e:  # a check that cannot be evaluated fails, with why
            ok, desc, details = False, cid, f"{type(e).__name__}: {e}"
        out[cid] = {"ok": bool(ok), "description": desc, "details": details}
    return out


def save(path, results, meta):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"meta": meta, "checks": results}, f, indent=1)
    os.replace(tmp, path)


def load(path):
    with open(path) as f:
        return json.load(f)

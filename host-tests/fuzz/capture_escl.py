#!/usr/bin/env python3
"""Record the exact HTTP requests real eSCL clients send (seed corpus tool).

A minimal eSCL device on 127.0.0.1 that answers the few requests a scan
needs and writes every request it receives, byte for byte (request line,
headers and body as they arrived), to OUTDIR/<NN>-<client>-<what>.  Run
Debian's scanimage against it through sane-airscan and through
sane-backends' escl backend; the files become seeds of
host-tests/fuzz/corpus/http_request and (the POST bodies) of
host-tests/fuzz/corpus/escl_settings.  Not run by CTest: the corpus is
checked in, this documents where it came from.

    capture_escl.py OUTDIR CLIENT [--version 2.63] [--port-file F]

The ScannerCapabilities it serves offers a platen, an ADF (simplex and
duplex), RGB24/Grayscale8/BlackAndWhite1, image/png and image/jpeg, 75, 150
and 300 dpi.  NextDocument answers one small PNG per job, then 404.
"""
import argparse
import os
import socket
import struct
import sys
import zlib

CAPS = """<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerCapabilities xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm" \
xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03">
<pwg:Version>{version}</pwg:Version>
<pwg:MakeAndModel>scanemu capture</pwg:MakeAndModel>
<scan:UUID>4509a320-00a0-008f-00b6-002507510eca</scan:UUID>
<scan:Platen><scan:PlatenInputCaps>{src}</scan:PlatenInputCaps></scan:Platen>
<scan:Adf><scan:AdfSimplexInputCaps>{src}</scan:AdfSimplexInputCaps>\
<scan:AdfDuplexInputCaps>{src}</scan:AdfDuplexInputCaps>\
<scan:FeederCapacity>50</scan:FeederCapacity></scan:Adf>
<scan:CompressionFactorSupport><scan:Min>0</scan:Min><scan:Max>100</scan:Max>\
<scan:Normal>25</scan:Normal><scan:Step>1</scan:Step></scan:CompressionFactorSupport>
</scan:ScannerCapabilities>
"""
SRC = ("<scan:MinWidth>16</scan:MinWidth><scan:MaxWidth>2550</scan:MaxWidth>"
       "<scan:MinHeight>16</scan:MinHeight><scan:MaxHeight>3508</scan:MaxHeight>"
       "<scan:MaxScanRegions>1</scan:MaxScanRegions><scan:SettingProfiles><scan:SettingProfile>"
       "<scan:ColorModes><scan:ColorMode>BlackAndWhite1</scan:ColorMode>"
       "<scan:ColorMode>Grayscale8</scan:ColorMode><scan:ColorMode>RGB24</scan:ColorMode>"
       "</scan:ColorModes><scan:DocumentFormats>"
       "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
       "<pwg:DocumentFormat>image/jpeg</pwg:DocumentFormat>"
       "<scan:DocumentFormatExt>image/png</scan:DocumentFormatExt>"
       "<scan:DocumentFormatExt>image/jpeg</scan:DocumentFormatExt></scan:DocumentFormats>"
       "<scan:SupportedResolutions><scan:DiscreteResolutions>" +
       "".join("<scan:DiscreteResolution><scan:XResolution>%d</scan:XResolution>"
               "<scan:YResolution>%d</scan:YResolution></scan:DiscreteResolution>" % (r, r)
               for r in (75, 150, 300)) +
       "</scan:DiscreteResolutions></scan:SupportedResolutions>"
       "</scan:SettingProfile></scan:SettingProfiles>")

STATUS = """<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerStatus xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm" \
xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03">
<pwg:Version>{version}</pwg:Version><pwg:State>Idle</pwg:State>
<scan:AdfState>{adf}</scan:AdfState>
</scan:ScannerStatus>
"""


def png(width, height, gray):
    """A width x height PNG, 8-bit gray or RGB, mid-gray pixels."""
    channels = 1 if gray else 3
    raw = b"".join(b"\0" + b"\x80" * (width * channels) for _ in range(height))

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0 if gray else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def read_request(conn):
    """Read one request; return its raw bytes (b'' at EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(65536)
        if not got:
            return data
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while not rest.endswith(b"0\r\n\r\n"):
            got = conn.recv(65536)
            if not got:
                break
            rest += got
    else:
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            got = conn.recv(65536)
            if not got:
                break
            rest += got
    return head + b"\r\n\r\n" + rest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("client")
    ap.add_argument("--version", default="2.63")
    ap.add_argument("--port-file")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write("%d\n" % port)
    print("listening on %d" % port, flush=True)

    n = 0
    jobs = 0
    served = set()
    gray = False
    width, height = 60, 60
    while True:
        conn, _ = srv.accept()
        while True:
            req = read_request(conn)
            if not req:
                break
            line = req.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            what = target.rstrip("/").split("/")[-1] or "root"
            n += 1
            with open(os.path.join(args.outdir, "%02d-%s-%s-%s" %
                                   (n, args.client, method.lower(), what)), "wb") as f:
                f.write(req)
            body = b""
            ctype = b"text/xml"
            status = b"200 OK"
            extra = b""
            if target.endswith("/ScannerCapabilities"):
                body = CAPS.format(version=args.version, src=SRC).encode()
            elif target.endswith("/ScannerStatus"):
                body = STATUS.format(version=args.version, adf="ScannerAdfLoaded").encode()
            elif method == "POST" and target.endswith("/ScanJobs"):
                jobs += 1
                text = req.partition(b"\r\n\r\n")[2]
                gray = b"Grayscale8" in text
                for tag, attr in ((b"Width>", "w"), (b"Height>", "h")):
                    pos = text.find(b"pwg:" + tag)
                    if pos >= 0:
                        val = int(text[pos + len(tag) + 4:].split(b"<", 1)[0])
                        res = 75
                        rpos = text.find(b"XResolution>")
                        if rpos >= 0:
                            res = int(text[rpos + 12:].split(b"<", 1)[0])
                        px = max(1, val * res // 300)
                        if attr == "w":
                            width = px
                        else:
                            height = px
                status = b"201 Created"
                extra = b"Location: http://127.0.0.1:%d/eSCL/ScanJobs/%d\r\n" % (port, jobs)
            elif target.endswith("/NextDocument"):
                if target in served:
                    status = b"404 Not Found"
                else:
                    served.add(target)
                    body = png(width, height, gray)
                    ctype = b"image/png"
            elif method == "DELETE":
                status = b"200 OK"
            else:
                status = b"404 Not Found"
            head = b"HTTP/1.1 " + status + b"\r\n" + extra
            if body:
                head += b"Content-Type: " + ctype + b"\r\n"
            head += b"Content-Length: %d\r\n\r\n" % len(body)
            conn.sendall(head + body)
            if b"connection: close" in req.lower().partition(b"\r\n\r\n")[0]:
                break
        conn.close()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""escl_scan.py URL [--pages N] [--source Feeder|Platen] [--mode Grayscale8|RGB24|BlackAndWhite1]
                    [--dpi N] [--page-gap-ms MS]

A minimal eSCL client for the emulator's tests: POST ScanJobs, then GET
NextDocument until N pages came (or a 404 ends the job), reading each
chunked page body whole; --page-gap-ms waits between pages (a slow host).
URL is the eSCL root, e.g. http://127.0.0.1:8080/eSCL. Prints one line per
page ("page N: BYTES bytes") and exits 0, or 1 with a reason.
"""
import argparse
import http.client
import re
import sys
import time
import urllib.parse

SETTINGS = (
    '<?xml version="1.0" encoding="UTF-8"?><scan:ScanSettings '
    'xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm" '
    'xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03"><pwg:Version>2.0</pwg:Version>'
    "<pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches"
    "</pwg:ContentRegionUnits><pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset>"
    "<pwg:Width>{w}</pwg:Width><pwg:Height>{h}</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"
    "<pwg:InputSource>{src}</pwg:InputSource><scan:ColorMode>{mode}</scan:ColorMode>"
    "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
    "<scan:XResolution>{dpi}</scan:XResolution><scan:YResolution>{dpi}</scan:YResolution>"
    "</scan:ScanSettings>")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--pages", type=int, default=1)
    ap.add_argument("--source", default="Feeder")
    ap.add_argument("--mode", default="Grayscale8")
    ap.add_argument("--dpi", type=int, default=75)
    ap.add_argument("--page-gap-ms", type=float, default=0.0)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    # The whole area of the source, from the capabilities.
    conn.request("GET", u.path + "/ScannerCapabilities")
    caps = conn.getresponse().read().decode()
    sect = caps.split("<scan:Adf>" if a.source == "Feeder" else "<scan:Platen>", 1)[-1]
    w = re.search(r"<scan:MaxWidth>(\d+)<", sect)
    h = re.search(r"<scan:MaxHeight>(\d+)<", sect)
    if not w or not h:
        print("escl_scan: no MaxWidth/MaxHeight in ScannerCapabilities", file=sys.stderr)
        return 1
    body = SETTINGS.format(src=a.source, mode=a.mode, dpi=a.dpi, w=w.group(1), h=h.group(1))
    conn.request("POST", u.path + "/ScanJobs", body=body, headers={"Content-Type": "text/xml"})
    r = conn.getresponse()
    r.read()
    if r.status != 201:
        print(f"escl_scan: POST ScanJobs answered {r.status}", file=sys.stderr)
        return 1
    job = urllib.parse.urlparse(r.getheader("Location")).path
    for page in range(a.pages):
        if page > 0 and a.page_gap_ms > 0:
            time.sleep(a.page_gap_ms / 1000.0)
        conn.request("GET", job + "/NextDocument")
        r = conn.getresponse()
        data = r.read()
        if r.status == 404:
            print(f"escl_scan: no page {page + 1} (404)")
            break
        if r.status != 200:
            print(f"escl_scan: NextDocument for page {page + 1} answered {r.status}",
                  file=sys.stderr)
            return 1
        print(f"page {page + 1}: {len(data)} bytes")
    conn.request("DELETE", job)
    conn.getresponse().read()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Read wias's multipage TIFFs with readers that share no code with libtiff.

usage: check_independent.py WRITER DIR

Runs WRITER DIR (wias_write_samples), then checks every file listed in
DIR/manifest.json three ways:

  1. a TIFF 6.0 parser in this file: header, IFD chain, tag order, word
     alignment, every tag wias writes, StripByteCounts exact; uncompressed
     and LZW strips decoded here (own LZW decoder and predictor) and
     compared byte for byte with the page handed to wias;
  2. Pillow (Debian python3-pil): page count, size, dpi, mode, and pixels
     (its own decoder for uncompressed strips; libtiff underneath for the
     codecs, still a second consumer of the tags), JPEG by PSNR;
  3. exiftool (Debian libimage-exiftool-perl, a Perl TIFF parser): one
     IFDn group per page with the same dimensions, resolution and
     photometric, and no warnings from -validate.

A missing tool is a failure, never a skip.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys

WIA_COMPRESSION_NONE, WIA_COMPRESSION_G3, WIA_COMPRESSION_G4, WIA_COMPRESSION_JPEG = 0, 3, 4, 5
WIAS_COMPRESSION_LZW, WIAS_COMPRESSION_DEFLATE = 0x1000, 0x1001
TIFF_COMPRESSION = {
    WIA_COMPRESSION_NONE: 1,
    WIA_COMPRESSION_G3: 3,
    WIA_COMPRESSION_G4: 4,
    WIAS_COMPRESSION_LZW: 5,
    WIAS_COMPRESSION_DEFLATE: 8,
    WIA_COMPRESSION_JPEG: 7,
}
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
TYPE_FMT = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d", 13: "I"}

failures = []


def fail(where, msg):
    failures.append(f"{where}: {msg}")


# ---- 1. our own TIFF reader ------------------------------------------------


def parse_tiff(data, where):
    """Return (byte order char, [ (ifd offset, {tag: values}) ])."""
    if data[:2] == b"II":
        bo = "<"
    elif data[:2] == b"MM":
        bo = ">"
    else:
        fail(where, "no TIFF byte-order mark")
        return None, []
    magic, off = struct.unpack(bo + "HI", data[2:8])
    if magic != 42:
        fail(where, f"magic {magic}, want 42 (classic TIFF)")
        return bo, []
    ifds = []
    seen = set()
    while off:
        if off in seen or len(ifds) > 10000:
            fail(where, f"IFD chain loops at {off}")
            break
        seen.add(off)
        if off % 2:
            fail(where, f"IFD at odd offset {off} (TIFF 6.0: word boundary)")
        if off + 2 > len(data):
            fail(where, f"IFD offset {off} past end of file {len(data)}")
            break
        (n,) = struct.unpack(bo + "H", data[off : off + 2])
        end = off + 2 + 12 * n + 4
        if n == 0 or end > len(data):
            fail(where, f"IFD at {off}: {n} entries do not fit the file")
            break
        tags = {}
        prev = -1
        for i in range(n):
            e = off + 2 + 12 * i
            tag, typ, count = struct.unpack(bo + "HHI", data[e : e + 8])
            if tag <= prev:
                fail(where, f"IFD at {off}: tag {tag} after {prev} (must ascend)")
            prev = tag
            size = TYPE_SIZE.get(typ)
            if size is None:
                fail(where, f"tag {tag}: unknown type {typ}")
                continue
            nbytes = size * count
            if nbytes <= 4:
                raw = data[e + 8 : e + 8 + nbytes]
            else:
                (voff,) = struct.unpack(bo + "I", data[e + 8 : e + 12])
                if voff % 2:
                    fail(where, f"tag {tag}: value at odd offset {voff}")
                if voff + nbytes > len(data):
                    fail(where, f"tag {tag}: value [{voff}, +{nbytes}) past end of file")
                    continue
                raw = data[voff : voff + nbytes]
            if typ == 2:
                tags[tag] = raw.rstrip(b"\0").decode("latin-1")
            elif typ in (5, 10):
                f = bo + ("I" if typ == 5 else "i") * (2 * count)
                v = struct.unpack(f, raw)
                tags[tag] = [(v[2 * k], v[2 * k + 1]) for k in range(count)]
            elif typ == 7:
                tags[tag] = raw
            else:
                tags[tag] = list(struct.unpack(bo + TYPE_FMT[typ] * count, raw))
        ifds.append((off, tags))
        (off,) = struct.unpack(bo + "I", data[end - 4 : end])
    return bo, ifds


def lzw_decode(src, expect):
    """TIFF LZW (MSB-first codes, early change), written from TIFF 6.0 §13."""
    out = bytearray()
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    width = 9
    bitbuf = 0
    nbits = 0
    pos = 0
    prev = None
    while True:
        while nbits < width:
            if pos >= len(src):
                return bytes(out)  # ran out without EOI: caller compares lengths
            bitbuf = (bitbuf << 8) | src[pos]
            pos += 1
            nbits += 8
        code = (bitbuf >> (nbits - width)) & ((1 << width) - 1)
        nbits -= width
        if code == 257:  # EndOfInformation
            return bytes(out)
        if code == 256:  # Clear
            table = table[:258]
            width = 9
            prev = None
            continue
        if code < len(table):
            entry = table[code]
            if prev is not None:
                table.append(prev + entry[:1])
        elif prev is not None and code == len(table):
            entry = prev + prev[:1]
            table.append(entry)
        else:
            raise ValueError(f"bad LZW code {code} (table {len(table)})")
        out += entry
        if len(out) > expect:
            raise ValueError("LZW strip decodes to more bytes than the strip holds")
        prev = entry
        # early change: the width grows one code before the table fills
        if len(table) + 1 >= (1 << width) and width < 12:
            width += 1


def undo_predictor(buf, width, rows, spp, bps, bo):
    """Horizontal differencing (Predictor 2) back to samples."""
    if bps == 8:
        b = bytearray(buf)
        stride = width * spp
        for r in range(rows):
            base = r * stride
            for i in range(spp, stride):
                b[base + i] = (b[base + i] + b[base + i - spp]) & 0xFF
        return bytes(b)
    n = width * spp * rows
    v = list(struct.unpack(bo + "H" * n, buf))
    stride = width * spp
    for r in range(rows):
        base = r * stride
        for i in range(spp, stride):
            v[base + i] = (v[base + i] + v[base + i - spp]) & 0xFFFF
    return struct.pack(bo + "H" * n, *v)


def samples16(buf, little):
    return struct.unpack(("<" if little else ">") + "H" * (len(buf) // 2), buf)


def check_page_tags(where, s, page_idx, page, tags, data):
    depth, comp = s["depth"], s["compression"]
    spp = 3 if depth in (24, 48) else 1
    bps = {1: 1, 8: 8, 16: 16, 24: 8, 48: 16}[depth]
    width, lines = page["width"], page["lines"]
    row_bytes = (width * depth + 7) // 8

    def want(tag, name, value):
        got = tags.get(tag)
        if got != value:
            fail(where, f"{name} ({tag}) is {got!r}, want {value!r}")

    want(254, "NewSubfileType", [2])
    want(256, "ImageWidth", [width])
    want(257, "ImageLength", [lines])
    want(258, "BitsPerSample", [bps] * spp)
    want(259, "Compression", [TIFF_COMPRESSION[comp]])
    if spp == 3:
        photometric = 6 if comp == WIA_COMPRESSION_JPEG else 2
    else:
        photometric = 0 if s["miniswhite"] else 1
    want(262, "PhotometricInterpretation", [photometric])
    want(277, "SamplesPerPixel", [spp])
    want(284, "PlanarConfiguration", [1])
    want(282, "XResolution", [(s["dpi"], 1)])
    want(283, "YResolution", [(s["dpi"], 1)])
    want(296, "ResolutionUnit", [2])
    want(297, "PageNumber", [page_idx, 0])
    if comp in (WIAS_COMPRESSION_LZW, WIAS_COMPRESSION_DEFLATE) and bps >= 8:
        want(317, "Predictor", [2])
    if comp == WIA_COMPRESSION_G3:
        t4 = tags.get(292, [0])[0]
        if not t4 & 1:
            fail(where, f"T4Options {t4}: 2-D coding bit not set")
    if comp == WIA_COMPRESSION_JPEG and spp == 3:
        want(530, "YCbCrSubsampling", [2, 2])
        if 532 not in tags:
            fail(where, "YCbCr page without ReferenceBlackWhite")

    rps = tags.get(278, [None])[0]
    offsets = tags.get(273)
    counts = tags.get(279)
    if rps is None or offsets is None or counts is None:
        fail(where, "RowsPerStrip, StripOffsets or StripByteCounts missing")
        return None
    if s["rows_per_strip"] and comp != WIA_COMPRESSION_JPEG:
        want(278, "RowsPerStrip", [min(s["rows_per_strip"], lines)])
    nstrips = (lines + rps - 1) // rps
    if len(offsets) != nstrips or len(counts) != nstrips:
        fail(where, f"{len(offsets)} offsets/{len(counts)} counts, want {nstrips} strips")
        return None
    strips = []
    for k, (o, n) in enumerate(zip(offsets, counts)):
        rows = min(rps, lines - k * rps)
        if o + n > len(data) or n == 0:
            fail(where, f"strip {k} [{o}, +{n}) outside the file ({len(data)})")
            return None
        if comp == WIA_COMPRESSION_NONE and n != rows * row_bytes:
            fail(where, f"strip {k}: StripByteCounts {n}, want {rows * row_bytes}")
        strips.append((o, n, rows))
    return strips, rps, row_bytes, spp, bps


def decode_page(where, s, strips, row_bytes, width, spp, bps, bo, data):
    """Uncompressed/LZW pixels as stored (file byte order), or None."""
    out = bytearray()
    for k, (o, n, rows) in enumerate(strips):
        chunk = data[o : o + n]
        want_len = rows * row_bytes
        if s["compression"] == WIAS_COMPRESSION_LZW:
            try:
                chunk = lzw_decode(chunk, want_len)
            except ValueError as e:
                fail(where, f"strip {k}: {e}")
                return None
            if len(chunk) != want_len:
                fail(where, f"strip {k}: LZW decodes to {len(chunk)} bytes, want {want_len}")
                return None
            if bps >= 8:
                chunk = undo_predictor(chunk, width, rows, spp, bps, bo)
        out += chunk
    return bytes(out)


def compare_pixels(where, s, got, want_raw, bo):
    if s["depth"] in (16, 48):
        a = samples16(got, bo == "<")
        b = samples16(want_raw, s["host_little"])
        if a != b:
            i = next(k for k in range(len(a)) if a[k] != b[k])
            fail(where, f"16-bit sample {i} is {a[i]}, wias was given {b[i]}")
    elif got != want_raw:
        i = next((k for k in range(min(len(got), len(want_raw))) if got[k] != want_raw[k]), None)
        fail(where, f"pixels differ from the page given to wias (first at byte {i})")


# ---- 2. Pillow ----------------------------------------------------------------


def expected_image(Image, s, page, raw):
    size = (page["width"], page["lines"])
    d = s["depth"]
    if d == 1:
        # MinIsBlack: a 1 bit is white; MinIsWhite: a 1 bit is black.
        return Image.frombytes("1", size, raw, "raw", "1;I" if s["miniswhite"] else "1")
    if d == 8:
        return Image.frombytes("L", size, raw)
    if d == 16:
        return Image.frombytes("I;16", size, raw, "raw", "I;16" if s["host_little"] else "I;16B")
    if d == 24:
        return Image.frombytes("RGB", size, raw)
    return Image.frombytes("RGB", size, raw, "raw", "RGB;16L" if s["host_little"] else "RGB;16B")


def psnr(a, b):
    pa, pb = a.tobytes(), b.tobytes()
    mse = sum((x - y) * (x - y) for x, y in zip(pa, pb)) / len(pa)
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def check_pillow(Image, ImageStat, path, s, raws):
    where = f"{os.path.basename(path)} (Pillow)"
    try:
        im = Image.open(path)
        n = getattr(im, "n_frames", 1)
        if n != len(s["pages"]):
            fail(where, f"{n} pages, want {len(s['pages'])}")
            return
        mode_want = {1: "1", 8: "L", 16: "I;16", 24: "RGB", 48: "RGB"}[s["depth"]]
        for p, page in enumerate(s["pages"]):
            w = f"{where} page {p}"
            im.seek(p)
            im.load()
            if im.size != (page["width"], page["lines"]):
                fail(w, f"size {im.size}")
            dpi = im.info.get("dpi")
            if not dpi or round(dpi[0]) != s["dpi"] or round(dpi[1]) != s["dpi"]:
                fail(w, f"dpi {dpi}, want {s['dpi']}")
            if im.mode != mode_want:
                fail(w, f"mode {im.mode}, want {mode_want}")
                continue
            exp = expected_image(Image, s, page, raws[p])
            if s["compression"] == WIA_COMPRESSION_JPEG:
                # Colours, not codec quality: per-channel means within 2
                # levels (R and B means differ by ~10 in the pattern, so a
                # channel swap or YCbCr shown as RGB fails), and a PSNR
                # floor below what 4:2:0 costs on the pattern's hard
                # colour edges (~28 dB) but far above a wrong decode.
                q = psnr(im, exp)
                floor = 25.0 if s["depth"] == 24 else 35.0
                if q < floor:
                    fail(w, f"JPEG PSNR {q:.1f} dB < {floor}")
                for c, (a, b) in enumerate(zip(ImageStat.Stat(im).mean, ImageStat.Stat(exp).mean)):
                    if abs(a - b) > 2.0:
                        fail(w, f"JPEG channel {c} mean {a:.1f}, wias was given {b:.1f}")
            elif im.tobytes() != exp.tobytes():
                fail(w, "pixels differ from the page given to wias")
    except Exception as e:  # a reader exception is a failed check
        fail(where, f"{type(e).__name__}: {e}")


# ---- 3. exiftool --------------------------------------------------------------


# exiftool -validate checks baseline TIFF 6.0 and has quirks; these warnings
# are expected and each is explained. Anything else fails.
def exiftool_warning_expected(s, msg):
    comp = s["compression"]
    if comp != WIA_COMPRESSION_NONE and comp != WIAS_COMPRESSION_LZW and (
            "tag 0x0103 Compression" in msg):
        return True  # CCITT, Deflate and JPEG are TIFF extensions, not baseline
    if comp == WIA_COMPRESSION_JPEG and s["depth"] == 24 and (
            "tag 0x0106 PhotometricInterpretation" in msg):
        return True  # YCbCr (6) is an extension too
    if comp == WIA_COMPRESSION_JPEG and msg.startswith("RawConv PreviewImage"):
        return True  # exiftool takes multi-strip JPEG pages for preview images
    if s["depth"] == 1 and comp == WIA_COMPRESSION_NONE and "Oversized" in msg and (
            "StripByteCounts" in msg):
        # exiftool expects width*lines/8 bytes; TIFF 6.0 pads each bilevel
        # row to a byte boundary, and our own parser checks the exact count.
        return True
    return False


def check_exiftool(exiftool, path, s):
    where = f"{os.path.basename(path)} (exiftool)"
    r = subprocess.run([exiftool, "-j", "-a", "-G1", "-n", path], capture_output=True, text=True)
    v = subprocess.run([exiftool, "-a", "-s", "-G1", "-validate", "-warning", "-error", path],
                       capture_output=True, text=True)
    if r.returncode != 0 or v.returncode != 0:
        fail(where, f"exit {r.returncode}/{v.returncode}: {r.stderr.strip()} {v.stderr.strip()}")
        return
    for line in v.stdout.splitlines():
        key, _, msg = line.partition(":")
        msg = msg.strip()
        if ("Warning" in key or "Error" in key) and not exiftool_warning_expected(s, msg):
            fail(where, f"{key.split()[-1]}: {msg}")
    info = json.loads(r.stdout)[0]
    groups = sorted({k.split(":")[0] for k in info if k.startswith("IFD")})
    want_groups = [f"IFD{p}" for p in range(len(s["pages"]))]
    if groups != want_groups:
        fail(where, f"IFD groups {groups}, want {want_groups}")
        return
    if info.get("File:PageCount", len(s["pages"])) != len(s["pages"]):
        fail(where, f"PageCount {info.get('File:PageCount')}")
    if s["depth"] in (24, 48):
        photometric = 6 if s["compression"] == WIA_COMPRESSION_JPEG else 2
    else:
        photometric = 0 if s["miniswhite"] else 1
    for p, page in enumerate(s["pages"]):
        g = f"IFD{p}"
        checks = {
            "SubfileType": 2,
            "ImageWidth": page["width"],
            "ImageHeight": page["lines"],
            "Compression": TIFF_COMPRESSION[s["compression"]],
            "PhotometricInterpretation": photometric,
            "SamplesPerPixel": 3 if s["depth"] in (24, 48) else 1,
            "XResolution": s["dpi"],
            "YResolution": s["dpi"],
            "ResolutionUnit": 2,
            "PlanarConfiguration": 1,
            "PageNumber": f"{p} 0",
        }
        for name, value in checks.items():
            got = info.get(f"{g}:{name}")
            if name == "SamplesPerPixel" and got is None and value == 1:
                continue
            if got != value:
                fail(f"{where} {g}", f"{name} is {got!r}, want {value!r}")


# ---- main -------------------------------------------------------------------


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    writer, outdir = sys.argv[1], sys.argv[2]
    try:
        from PIL import Image, ImageStat
    except ImportError:
        print("FAIL: Pillow is missing (install Debian package python3-pil)", file=sys.stderr)
        return 1
    exiftool = shutil.which("exiftool")
    if not exiftool:
        print("FAIL: exiftool is missing (install Debian package libimage-exiftool-perl)",
              file=sys.stderr)
        return 1

    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    r = subprocess.run([writer, outdir])
    if r.returncode != 0:
        print(f"FAIL: {writer} exited {r.returncode}", file=sys.stderr)
        return 1
    with open(os.path.join(outdir, "manifest.json")) as f:
        manifest = json.load(f)

    for s in manifest:
        path = os.path.join(outdir, s["name"] + ".tif")
        with open(path, "rb") as f:
            data = f.read()
        raws = []
        for p in range(len(s["pages"])):
            with open(os.path.join(outdir, f"{s['name']}.p{p}.raw"), "rb") as f:
                raws.append(f.read())
        base = os.path.basename(path)
        bo, ifds = parse_tiff(data, base)
        if len(ifds) != len(s["pages"]):
            fail(base, f"{len(ifds)} IFDs in the chain, want {len(s['pages'])}")
        for p, ((off, tags), page) in enumerate(zip(ifds, s["pages"])):
            where = f"{base} page {p}"
            if off != page["ifd"]:
                fail(where, f"IFD at {off}, wias reported lCurIfdOffset {page['ifd']}")
            res = check_page_tags(where, s, p, page, tags, data)
            if res is None:
                continue
            strips, rps, row_bytes, spp, bps = res
            if s["compression"] in (WIA_COMPRESSION_NONE, WIAS_COMPRESSION_LZW):
                got = decode_page(where, s, strips, row_bytes, page["width"], spp, bps, bo, data)
                if got is not None:
                    compare_pixels(where, s, got, raws[p], bo)
        check_pillow(Image, ImageStat, path, s, raws)
        check_exiftool(exiftool, path, s)
        print(f"checked {base}: {len(ifds)} pages")

    if failures:
        for f in failures:
            print("FAIL:", f, file=sys.stderr)
        print(f"{len(failures)} failures", file=sys.stderr)
        return 1
    print(f"all {len(manifest)} files pass the independent readers")
    return 0


if __name__ == "__main__":
    sys.exit(main())

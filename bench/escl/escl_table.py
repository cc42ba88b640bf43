#!/usr/bin/env python3
"""The eSCL rows of scripts/bench.sh (issue 12, section 4), from its
results.env: a second Markdown table after the main one.

  escl_table.py RESULTS.env

Standard library only. Every ratio is against a baseline measured in the
same rounds of the same run (bench.sh section 6); nothing here is a test.
"""
import math
import sys


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def num(env, k):
    try:
        v = float(env[k])
        return None if math.isnan(v) else v
    except (KeyError, ValueError):
        return None


def f1(v, unit="", digits=1):
    return "n/a" if v is None else f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(ok):
    if ok is None:
        return "n/a"
    return "**met**" if ok else "**missed**"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    env = load_env(sys.argv[1])
    if not any(k.startswith("es_") or k.startswith("estm_") for k in env):
        return 0
    rows = []
    TIMED_OUT = "n/a (timed out)"

    def row(n, what, result, base, r, target, ok, tres=(), tbase=()):
        if any(f"timeout_{k}" in env for k in tres):
            result, r, ok = TIMED_OUT, None, None
        if any(f"timeout_{k}" in env for k in tbase):
            base, r, ok = f"{base.split(':')[0]}: {TIMED_OUT}", None, None
        rows.append((n, what, result, base, "n/a" if r is None else f"{r:,.2f}×", target,
                     verdict(ok)))

    pages = env.get("es_pages", "?")
    runs = env.get("es_runs", "?")
    levels = env.get("es_levels", "1").split()
    nat = num(env, "es_native_MBps")
    sane = num(env, "es_sane_MBps")
    hung = int(num(env, "es_sane_hung_runs") or 0)

    def cpu(key):
        c, e = num(env, f"es_{key}_client_cpu_s"), num(env, f"es_{key}_emu_cpu_s")
        return f"client CPU {f1(c, ' s', 2)}, scanemu CPU {f1(e, ' s', 2)} per job"

    nat_cell = (f"native, wiascan over usbip → TIFF: {f1(nat, ' MB/s')} "
                f"({f1(num(env, 'es_native_seconds'), ' s', 3)}; {cpu('native')})")
    sane_cell = (f"SANE test backend, {pages} × 200×200 mm → TIFF: {f1(sane, ' MB/s')}"
                 + (f"; {hung} run(s) hung, left out" if hung else ""))
    for i, lv in enumerate(levels):
        main_level = i == 0
        tag = "" if main_level else f"-L{lv}"
        for key, n, who, out in ((f"air{lv}", "E1", "sane-airscan through Debian's scanimage "
                                  "(-d airscan:e0:NAME --source ADF)", "TIFF on tmpfs"),
                                 (f"http{lv}", "E2", "a plain HTTP client (bench_escl_client: "
                                  "POST ScanSettings, NextDocument until 404)",
                                  "PNG files on tmpfs, not decoded")):
            mb = num(env, f"es_{key}_MBps")
            secs = num(env, f"es_{key}_seconds")
            extra = ""
            if key.startswith("http"):
                png = num(env, f"es_{key}_png_bytes")
                raw = num(env, f"es_{key}_bytes")
                if png and raw:
                    extra = f"; PNG {png / 1e6:,.1f} MB = 1/{raw / png:,.1f} of the pixels"
            res = (f"{f1(mb, ' MB/s')} ({f1(secs, ' s', 3)}; {cpu(key)}{extra})"
                   if mb is not None else "n/a")
            what = (f"6 eSCL throughput, PNG --png-level {lv}, timing off: {pages} A4 300-dpi "
                    f"colour pages through {who} → {out}; median of {runs} rounds")
            r = ratio(mb, nat)
            row(n + "a" + tag, what, res, nat_cell, r,
                "≥ 0.5×" if main_level else "(reported)",
                (None if r is None else r >= 0.5) if main_level else None,
                (f"es_{key}",), ("es_native",))
            r = ratio(mb, sane)
            row(n + "b" + tag, "6 eSCL throughput, per MB (same pass)", res, sane_cell, r,
                "≥ 1.0×" if main_level else "(reported)",
                (None if r is None else r >= 1.0) if main_level else None,
                (f"es_{key}",), ("es_sane",))
            ccpu, byt = num(env, f"es_{key}_client_cpu_s"), num(env, f"es_{key}_bytes")
            if key.startswith("air") and ccpu and byt:
                # What the client alone allows: its own CPU time per job
                # (decode, checksums, copies, TIFF write), were scanemu free
                # and the client never waiting.
                ceil = byt / 1e6 / ccpu
                row(n + "c" + tag, "6 eSCL throughput through sane-airscan against the client's "
                    "own bound: bytes / scanimage's CPU time per job (both threads)", res,
                    f"client-bound ceiling {f1(ceil, ' MB/s')} = "
                    f"{f1(ratio(ceil, nat), '×', 2)} native, {f1(ratio(ceil, sane), '×', 2)} "
                    "SANE test backend", ratio(mb, ceil), "(reported)", None, (f"es_{key}",))

    if any(k.startswith("estm_") for k in env):
        p99, tp99 = num(env, "estm_late_p99_us"), num(env, "estm_timer_p99_us")
        r = ratio(p99, tp99)
        row("E3", f"6 eSCL timing, real clock, 2 ms bands × {env.get('estm_bands', '?')} "
            f"({env.get('estm_pages', '?')} pages, PNG --png-level {env.get('estm_png_level', '?')}, "
            "bench_escl_client): band release − deadline p50 / p99 / max",
            f"{f1(num(env, 'estm_late_p50_us'))} / {f1(p99)} / {f1(num(env, 'estm_late_max_us'))} µs "
            f"({env.get('estm_early_bands', '?')} early; drift at the end "
            f"{f1(num(env, 'estm_drift_us'), ' µs')})",
            f"bare timerfd wake-up at the same deadlines, just before (bench_timer): "
            f"{f1(num(env, 'estm_timer_p50_us'))} / {f1(tp99)} / "
            f"{f1(num(env, 'estm_timer_max_us'))} µs", r, "p99 ≤ 1.5× bare timer",
            None if r is None else r <= 1.5, ("estm",), ("estm_timer",))
        np99 = num(env, "estmn_late_p99_us")
        if np99 is not None or "timeout_estmn" in env:
            r = ratio(p99, np99)
            row("E3-native", "6 eSCL timing against the native path: the same profile and pages "
                "through wiascan over usbip, right after the eSCL job: band release − deadline "
                "p50 / p99 / max",
                f"{f1(num(env, 'estm_late_p50_us'))} / {f1(p99)} / "
                f"{f1(num(env, 'estm_late_max_us'))} µs",
                f"native: {f1(num(env, 'estmn_late_p50_us'))} / {f1(np99)} / "
                f"{f1(num(env, 'estmn_late_max_us'))} µs", r, "(reported)", None, ("estm",),
                ("estmn",))

    print()
    print(f"eSCL (issue 12) — {pages} pages per job, {runs} rounds after a warm-up; in each round "
          "native, SANE test backend, then per PNG level sane-airscan and the plain client, one "
          "after the other against the same scanemu (both fronts). MB = 10^6 bytes of TIFF "
          "written (native, scanimage) or of decoded pixels (plain client; the same bytes).")
    print()
    print("| # | measurement | result | baseline (same rounds) | ratio | target | |")
    print("|---|---|---|---|---|---|---|")
    for rw in rows:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in rw) + " |")
    notes = [f"{k[len('timeout_'):]}: {v}" for k, v in env.items()
             if k.startswith("timeout_es") or k.startswith("timeout_estm")]
    if notes:
        print()
        print("Timed out (bounded by BENCH_TIMEOUT, killed; the run went on): " + "; ".join(notes) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The rows of scripts/bench.sh's tables, as data (rendered by benchtool.py
`table`; the language is described there, in render_table's docstring).

Each row names its numbers by results.env key; `$name` is a loop variable
(the group's `for`), `{key:D|UNIT}` a number from results.env (or one that
benchtool.py derives from it: derive()) with D decimals, `{key}` its text.
A row's ratio is `ratio` = (numerator key, baseline key or constant), or
one key holding a ratio measured elsewhere; `check` = (op, limit) judges the
ratio (or the `check_on` value) against the target; `tres` / `tbase` name
the bounded commands (bench.sh `bounded`) its result / baseline came from,
so a timed-out command reads "n/a (timed out)".
"""

USB2_HS_MBPS = 53.2  # USB 2.0 high-speed bulk: 13 x 512 B per 125 us microframe
A4_COLOUR_MB = 26.1  # one A4 300-dpi 24-bit page


def when(cond, text):
    """A part of a cell that is there only when cond holds."""
    return ("when", cond, text)


def _passes(key):
    """The worst p99 of every repeat of a pass (bench.sh median_of_passes;
    the row's numbers are the median pass's)."""
    return when(key + "_passes", "; worst p99 of each pass {" + key + "_passes:1| µs}, the "
                "median pass reported")


def need(cond, *parts, other="n/a"):
    """A cell that reads `other` unless cond holds."""
    return ("need", cond, list(parts), other)


TIMING_PASSES = [
    {"key": "tm", "tag": "", "how": "default scheduling"},
    {"key": "tmrt", "tag": "-rt",
     "how": "scanemu, wiascan and the bare timer at SCHED_FIFO (chrt -f 10)"},
]

SCALE_KINDS = [
    {"kind": "tm", "tag": "", "short": "default scheduling",
     "how": "default scheduling (device threads ask for a 100 µs slice)"},
    {"kind": "tmns", "tag": "-noslice", "short": "scanemu --slice-us 0",
     "how": "scanemu --slice-us 0 (the kernel's default slice)"},
    {"kind": "tmrt", "tag": "-rt", "short": "scanemu --realtime",
     "how": "scanemu --realtime (device threads SCHED_FIFO 10; wiascan at normal priority)"},
]

TP_CELL = need("#tp_MBps", "{tp_MBps:1| MB/s}, {tp_ppm:1| pages/min}")

MAIN = {
    "title": [
        ["scanemu benchmarks — {date}, commit {commit}, {host}",
         when("quick==1", " (BENCH_QUICK=1)")],
        ["Machine load from other work: CPUs {busy_before_pct}% busy before the run, "
         "{busy_after_pct}% after; load average {load_before}."],
        [],
    ],
    "columns": ["#", "measurement", "result", "baseline (same run)", "ratio", "target", ""],
    "rows": [
        {"id": "1a",
         "what": "1 throughput: scanemu → wiascan, usbip on loopback, timing off, {tp_pages} A4 "
                 "300-dpi 24-bit pages → TIFF on tmpfs ({tp_MB:1| MB})",
         "result": TP_CELL, "base": "raw TCP loopback, same bytes: {tcp_MBps:1| MB/s}",
         "ratio": ("tp_MBps", "tcp_MBps"), "target": "≥ 0.5×", "check": (">=", 0.5),
         "tres": ["tp"], "tbase": ["tcp"]},
        {"id": "1b", "what": "1 throughput, per MB", "result": TP_CELL,
         "base": ["SANE test backend (scanimage -d test, {sane_pages} × 200×200 mm colour 300 dpi "
                  "TIFF): {sane_MBps:1| MB/s}",
                  when("sane_hung_runs>0",
                       "; {sane_hung_runs:0} scanimage run(s) hung, killed and left out")],
         "ratio": ("tp_MBps", "sane_MBps"), "target": "≥ 1.0×", "check": (">=", 1.0),
         "tres": ["tp"], "tbase": ["sane"]},
        {"id": "1c", "what": "1 throughput", "result": TP_CELL,
         "base": "USB 2.0 high-speed bulk ceiling: 53.2 MB/s", "ratio": ("tp_MBps", USB2_HS_MBPS),
         "target": "≥ 10×", "check": (">=", 10), "tres": ["tp"]},
        {"id": "1d", "when": "tmpfsw_MBps||timeout_tmpfsw",
         "what": "1 throughput, against its floor", "result": TP_CELL,
         "base": "write() of the same bytes into a new file on the same tmpfs (dd, 4 MiB "
                 "writes): {tmpfsw_MBps:1| MB/s}",
         "ratio": ("tp_MBps", "tmpfsw_MBps"), "target": "(reported)",
         "tres": ["tp"], "tbase": ["tmpfsw"]},
        # Any program that moves these bytes over loopback TCP and writes them
        # into tmpfs pays at least both CPU costs; spread perfectly over every
        # CPU, that is the fastest it can go (derive: tp_bound_MBps).
        {"id": "1e", "when": "#tp_bound_MBps",
         "what": "1 throughput, against the CPU bound", "result": TP_CELL,
         "base": "(TCP loopback CPU {tcp_cpu_s_per_run:3} s + tmpfs write CPU "
                 "{tmpfsw_cpu_s_per_run:3} s) / {ncpu_int} CPUs = {tp_bound_MBps:1| MB/s} at "
                 "best, {tp_bound_vs_tcp:2}× raw TCP",
         "ratio": ("tp_MBps", "tp_bound_MBps"), "target": "(reported)",
         "tres": ["tp"], "tbase": ["tcp", "tmpfsw"]},
        {"for": TIMING_PASSES,
         "when": "$key==tm||${key}_bands||timeout_${key}||timeout_${key}_timer",
         "rows": [
             {"id": "2a$tag",
              "what": "2 timing, real clock, 2 ms bands × {${key}_bands}, $how: device release "
                      "− deadline p50 / p99 / max",
              "result": ["{${key}_late_p50_us:1} / {${key}_late_p99_us:1} / "
                         "{${key}_late_max_us:1} µs ({${key}_early_bands} early)",
                         when("#${key}_steal_ms",
                              "; {${key}_steal_ms:0| ms} stolen by the hypervisor")],
              "base": ["bare timerfd wake-up at the same deadlines (bench_timer): "
                       "{${key}_timer_p50_us:1} / {${key}_timer_p99_us:1} / "
                       "{${key}_timer_max_us:1} µs",
                       when("#${key}_timer_steal_ms",
                            "; {${key}_timer_steal_ms:0| ms} stolen")],
              "ratio": ("${key}_late_p99_us", "${key}_timer_p99_us"), "target": "p99 ≤ 250 µs",
              "check": ("<=", 250), "check_on": "${key}_late_p99_us",
              "tres": ["$key"], "tbase": ["${key}_timer"]},
             {"id": "2a$tag-emu", "when": "#${key}_emu_late_p99_us",
              "what": "2 timing, same job: the emulator's own lateness, release − max(deadline, "
                      "arrival of the URB that carried the band) p50 / p99 / max; bands with no "
                      "URB queued at their deadline (host starvation)",
              "result": "{${key}_emu_late_p50_us:1} / {${key}_emu_late_p99_us:1} / "
                        "{${key}_emu_late_max_us:1} µs; {${key}_starved_bands} of "
                        "{${key}_bands} starved",
              "base": "bare timerfd wake-up p99: {${key}_timer_p99_us:1| µs}",
              "ratio": ("${key}_emu_late_p99_us", "${key}_timer_p99_us"), "target": "(reported)",
              "tres": ["$key"], "tbase": ["${key}_timer"]},
             {"id": "2b$tag",
              "what": "2 timing: drift at the end — last band's release − deadline; trend = "
                      "median error of the last 100 bands − of the first 100",
              "result": "{${key}_drift_us:1| µs}; trend {${key}_drift_trend_us:1| µs}",
              "base": "job length {${key}_span_s:2| s}; bare timer, last wake-up "
                      "{${key}_timer_drift_us:1| µs}",
              "ratio": "${key}_drift_rate", "target": "≤ 1 ms",
              "check": ("<=", 1000), "check_on": "${key}_drift_worst_us",
              "tres": ["$key"], "tbase": ["${key}_timer"]},
             {"id": "2c$tag",
              "what": "2 timing: host arrival jitter p50 / p99 / max (error of each "
                      "inter-arrival interval against the device's deadlines)",
              "result": "{${key}_host_jitter_p50_us:1} / {${key}_host_jitter_p99_us:1} / "
                        "{${key}_host_jitter_max_us:1} µs; host drift "
                        "{${key}_host_drift_us:1| µs}",
              "base": "band interval 2,000 µs", "ratio": ("${key}_host_jitter_p99_us", 2000.0),
              "target": "(reported)", "tres": ["$key"]},
         ]},
        {"for": "sc_devices", "rows": [
            {"id": "3-$n",
             "what": "3 scale: $n device(s) in one scanemu, all scanning: aggregate MB/s "
                     "(timing off, A4 colour)",
             "result": "{sc${n}_MBps:1| MB/s}", "base": "1 device: {sc1_MBps:1| MB/s}",
             "ratio": ("sc${n}_MBps", "sc1_MBps"), "target": "(reported)",
             "tres": ["sc${n}tp"], "tbase": ["sc1tp"]},
            {"for": SCALE_KINDS,
             "when": "$kind==tm||sc${n}_${kind}_bands||timeout_sc${n}${kind}",
             "rows": [
                 {"id": "3-$n$tag",
                  "what": "3 scale: $n device(s), 2 ms bands, $how: per-device total lateness "
                          "release − deadline p99 (worst device; median device)",
                  "result": ["{sc${n}_${kind}_per_device_p99_worst_us:1| µs}; "
                             "{sc${n}_${kind}_per_device_p99_median_us:1| µs}",
                             when("#sc${n}_${kind}_steal_ms",
                                  "; {sc${n}_${kind}_steal_ms:0| ms} stolen by the hypervisor"),
                             _passes("sc${n}_${kind}_per_device_p99_worst_us")],
                  "base": "1 device, $short: {sc1_${kind}_per_device_p99_worst_us:1| µs}",
                  "ratio": ("sc${n}_${kind}_per_device_p99_worst_us",
                            "sc1_${kind}_per_device_p99_worst_us"),
                  "target": "(reported)",
                  "cases": [("$n==8", {"target": "≤ 2× of 1 device", "check": ("<=", 2.0)})],
                  "tres": ["sc${n}${kind}"], "tbase": ["sc1${kind}"]},
                 {"id": "3-$n$tag-emu",
                  "when": "#sc${n}_${kind}_per_device_emu_p99_worst_us||"
                          "#sc${n}_${kind}_per_device_emu_p99_median_us",
                  "what": "3 scale: $n device(s), same pass: per-device emulator lateness "
                          "release − max(deadline, URB arrival) p99 (worst device; median "
                          "device); bands starved by the host (no URB queued at the deadline)",
                  "result": "{sc${n}_${kind}_per_device_emu_p99_worst_us:1| µs}; "
                            "{sc${n}_${kind}_per_device_emu_p99_median_us:1| µs}; "
                            "{sc${n}_${kind}_starved_bands} of {sc${n}_${kind}_bands} starved",
                  "base": "1 device, $short: {sc1_${kind}_per_device_emu_p99_worst_us:1| µs}",
                  "ratio": ("sc${n}_${kind}_per_device_emu_p99_worst_us",
                            "sc1_${kind}_per_device_emu_p99_worst_us"),
                  "target": "(reported)",
                  "cases": [("$n==8", {"target": "≤ 2× of 1 device (emulator's share)",
                                       "check": ("<=", 2.0)})],
                  "tres": ["sc${n}${kind}"], "tbase": ["sc1${kind}"]},
             ]},
            {"id": "3-$n-bare", "when": "#sc${n}_bare_per_stream_p99_worst_us",
             "what": "3 scale: the floor, $n bare stream(s) (bench_stream --host-procs: per "
                     "stream a timerfd thread sending 5,948 bytes at each 2 ms deadline over "
                     "loopback TCP to a host process of its own, 4 requests in flight; no "
                     "protocol, synthesis, trace or page writing): per-stream p99 (worst "
                     "stream; median stream); CPU per message, device + host side",
             "result": ["{sc${n}_bare_per_stream_p99_worst_us:1| µs}; "
                        "{sc${n}_bare_per_stream_p99_median_us:1| µs}; "
                        "{sc${n}_bare_device_cpu_us_per_msg:1} + "
                        "{sc${n}_bare_host_cpu_us_per_msg:1| µs}; "
                        "{sc${n}_bare_steal_ms:0| ms} stolen by the hypervisor",
                        _passes("sc${n}_bare_per_stream_p99_worst_us")],
             "base": "1 bare stream: {sc1_bare_per_stream_p99_worst_us:1| µs}",
             "ratio": ("sc${n}_bare_per_stream_p99_worst_us", "sc1_bare_per_stream_p99_worst_us"),
             "target": "(reported: what this machine allows)",
             "tres": ["sc${n}bare"], "tbase": ["sc1bare"]},
            {"id": "3-$n-vs-bare",
             "when": "#sc${n}_bare_per_stream_p99_worst_us&&#sc${n}_tm_per_device_p99_worst_us",
             "what": "3 scale: $n device(s) against the floor: worst device p99 against the worst "
                     "bare stream's; CPU per band, scanemu + its wiascan hosts (start and exit "
                     "included) against the floor's device + host side",
             "result": "{sc${n}_tm_per_device_p99_worst_us:1| µs}; "
                       "{sc${n}_tm_emu_cpu_us_per_band:1} + "
                       "{sc${n}_tm_hosts_cpu_us_per_band:1| µs}",
             "base": "{sc${n}_bare_per_stream_p99_worst_us:1| µs}; "
                     "{sc${n}_bare_device_cpu_us_per_msg:1} + "
                     "{sc${n}_bare_host_cpu_us_per_msg:1| µs}",
             "ratio": ("sc${n}_tm_per_device_p99_worst_us", "sc${n}_bare_per_stream_p99_worst_us"),
             "target": "(reported)", "tres": ["sc${n}tm"], "tbase": ["sc${n}bare"]},
            {"id": "3-$n",
             "what": "3 scale: $n device(s): scanemu peak RSS (VmHWM) in the A4 pass",
             "result": ["{sc${n}_emu_hwm_MiB:1| MiB}",
                        when("#sc${n}_per_extra_MiB",
                             " (+{sc${n}_per_extra_MiB:1| MiB} per extra device)")],
             "base": ["1 device: {sc1_emu_hwm_MiB:1| MiB}",
                      when("$n!=1", f"; one A4 colour page is {A4_COLOUR_MB:.1f} MB")],
             "ratio": ("sc${n}_emu_hwm_kb", "sc1_emu_hwm_kb"), "target": "(reported)",
             "cases": [("$n!=1", {"target": "bounded by band buffers, not pages"})],
             "check": ("<", A4_COLOUR_MB / 2), "check_on": "sc${n}_per_extra_MiB",
             "tres": ["sc${n}tp"], "tbase": ["sc1tp"]},
        ]},
        {"for": [{"who": "lj_emu", "label": "scanemu"}, {"who": "lj_wiascan", "label": "wiascan"}],
         "rows": [
             {"id": "4",
              "what": "4 long job: {lj_pages} pages (75 dpi gray, timing off), $label RSS at the "
                      "first sample after page 10 (page {${who}_at_page}) and at the last sample "
                      "(page {${who}_last_page}); peak (VmHWM) at the end",
              "result": "{${who}_rss_last_MiB:2| MiB} (peak {${who}_hwm_last_MiB:2| MiB})",
              "base": "page {${who}_at_page}: {${who}_rss_at_MiB:2| MiB}",
              "ratio": ("${who}_rss_last_kb", "${who}_rss_at_kb"), "target": "flat (≤ 1.10×)",
              "check": ("<=", 1.10), "tres": ["lj"], "tbase": ["lj"]},
         ]},
        {"id": "5a",
         "what": "5 wias writer: A4 300-dpi 24-bit pages through wiasWritePageBufToStream into a "
                 "file on tmpfs (bench_wias)",
         "result": "{wias_file_MBps:1| MB/s}",
         "base": "write() of the raw page bytes: {wias_file_base_MBps:1| MB/s}",
         "ratio": "wias_file_ratio", "target": "{wias_target_text}× (its issue)",
         "check": (">=", "wias_target_num"), "tres": ["wias"], "tbase": ["wias"]},
        {"id": "5b", "what": "5 wias writer into a memory IStream",
         "result": "{wias_mem_MBps:1| MB/s}",
         "base": "memcpy() into one buffer: {wias_mem_base_MBps:1| MB/s}",
         "ratio": "wias_mem_ratio", "target": "{wias_target_text}× (its issue)",
         "check": (">=", "wias_target_num"), "tres": ["wias"], "tbase": ["wias"]},
        {"id": "5c", "what": "5 page synthesis: dm_synth_band, A4 colour 300 dpi (bench_synth)",
         "result": "{synth_MBps:1| MB/s}", "base": "memset(): {synth_memset_MBps:1| MB/s}",
         "ratio": "synth_ratio", "target": "(reported; its issue)",
         "tres": ["synth"], "tbase": ["synth"]},
        {"id": "5c", "what": "5 page synthesis against USB 2.0", "result": "{synth_MBps:1| MB/s}",
         "base": "USB 2.0 HS: 53.2 MB/s", "ratio": ("synth_MBps", USB2_HS_MBPS),
         "target": "(reported)", "tres": ["synth"]},
    ],
}

# Quiet and loaded passes (bench.sh bench_loaded: stress-ng CPU hogs at
# normal priority on every core, the bare timer measured under the same
# load), row by row, each against its own state's baseline. Rows give the
# value and baseline keys of both states and a limit per state on the ratio
# (None: reported).
SIDE_PASSES = [
    {"key": "tm", "tag": "", "how": "default scheduling"},
    {"key": "tmrt", "tag": "-rt", "how": "all at SCHED_FIFO 10"},
]
SIDE_KINDS = [
    {"kind": "tm", "tag": "", "how": "default scheduling (100 µs slice)"},
    {"kind": "tmns", "tag": "-noslice", "how": "scanemu --slice-us 0"},
    {"kind": "tmrt", "tag": "-rt", "how": "scanemu --realtime"},
]


def _passes_short(key):
    return when(key + "_passes", " (passes {" + key + "_passes:0| µs})")


def _starved(pfx):
    return ("; {" + pfx + "sc${n}_${kind}_starved_bands} starved, {" + pfx
            + "sc${n}_${kind}_jobs_emu_beyond} of $n jobs beyond the tolerance by the emulator")


SIDE = {
    "when": "^ldtm_||^ldsc",
    "title": [
        [],
        ["Quiet and loaded side by side — loaded: {ld_stress} at normal priority on every core "
         "for the whole pass (CPUs {ld_busy_pct}% busy under it); each ratio against the "
         "baseline of its own state, measured in the same pass."],
        [],
    ],
    "columns": ["#", "measurement", "quiet", "baseline", "ratio", "loaded", "baseline", "ratio",
                "target", "verdict (quiet / loaded)"],
    "pairs": True,
    "rows": [
        {"for": SIDE_PASSES, "rows": [
            {"id": "2a$tag",
             "what": "1 device, 2 ms bands, $how: device p99 (release − deadline) against the "
                     "bare timerfd p99 of the same state",
             "quiet": ("${key}_late_p99_us", "${key}_timer_p99_us"),
             "loaded": ("ld${key}_late_p99_us", "ld${key}_timer_p99_us"),
             "quiet_extra": when("#${key}_steal_ms", "; {${key}_steal_ms:0| ms} stolen"),
             "loaded_extra": when("#ld${key}_steal_ms", "; {ld${key}_steal_ms:0| ms} stolen"),
             "target": "≤ 1.5× bare timer", "limits": (1.5, 1.5)},
            {"id": "2a$tag-emu",
             "what": "same job: the emulator's share p99 against the bare timer p99",
             "quiet": ("${key}_emu_late_p99_us", "${key}_timer_p99_us"),
             "loaded": ("ld${key}_emu_late_p99_us", "ld${key}_timer_p99_us"),
             "target": "(reported)"},
            {"id": "T$tag",
             "what": "the bare timerfd wake-up itself ($how), p99 against the quiet one",
             "quiet": ("${key}_timer_p99_us", "${key}_timer_p99_us"),
             "loaded": ("ld${key}_timer_p99_us", "${key}_timer_p99_us"),
             "target": "(reported)"},
        ]},
        {"for": "sc_devices", "rows": [
            {"for": SIDE_KINDS,
             "when": ["sc${n}_${kind}_bands||ldsc${n}_${kind}_bands", "$n!=1||$kind!=tm"],
             "rows": [
                 {"id": "3-$n$tag", "when": "$n==1||$n==8",
                  "what": "$n devices, $how: worst device p99 against the bare timer p99 of the "
                          "same state",
                  "quiet": ("sc${n}_${kind}_per_device_p99_worst_us", "tm_timer_p99_us"),
                  "loaded": ("ldsc${n}_${kind}_per_device_p99_worst_us", "ldtm_timer_p99_us"),
                  "target": "(reported)",
                  "cases": [("$kind==tm", {"target": "≤ 1.5× bare timer",
                                           "limits": (1.5, 1.5)})]},
                 {"id": "3-$n$tag-emu", "when": "$n==1||$n==8",
                  "what": "same pass: worst device's emulator-share p99 against the bare timer "
                          "p99",
                  "quiet": ("sc${n}_${kind}_per_device_emu_p99_worst_us", "tm_timer_p99_us"),
                  "loaded": ("ldsc${n}_${kind}_per_device_emu_p99_worst_us",
                             "ldtm_timer_p99_us"),
                  "target": "(reported)", "quiet_extra": _starved(""),
                  "loaded_extra": _starved("ld")},
                 {"id": "3-$n$tag", "when": "$n!=1&&$n!=8",
                  "what": "$n devices, $how: worst device p99 against 1 device, $how, of the "
                          "same state",
                  "quiet": ("sc${n}_${kind}_per_device_p99_worst_us",
                            "sc1_${kind}_per_device_p99_worst_us"),
                  "loaded": ("ldsc${n}_${kind}_per_device_p99_worst_us",
                             "ldsc1_${kind}_per_device_p99_worst_us"),
                  "target": "(reported)",
                  "quiet_extra": _passes_short("sc${n}_${kind}_per_device_p99_worst_us"),
                  "loaded_extra": _passes_short("ldsc${n}_${kind}_per_device_p99_worst_us"),
                  "floor": {"quiet": ("sc${n}_bare_per_stream_p99_worst_us",
                                      "sc1_bare_per_stream_p99_worst_us"),
                            "loaded": ("ldsc${n}_bare_per_stream_p99_worst_us",
                                       "ldsc1_bare_per_stream_p99_worst_us")},
                  "cases": [("$kind==tm", {"target": "≤ 2× of 1 device (quiet)",
                                           "limits": (2.0, None)}),
                            ("$kind==tmrt", {"target": "≤ 2× of 1 device (quiet), both "
                                                       "--realtime",
                                             "limits": (2.0, None)})]},
                 {"id": "3-$n$tag-emu", "when": "$n!=1&&$n!=8",
                  "what": "same pass: worst device's emulator-share p99 against 1 device's",
                  "quiet": ("sc${n}_${kind}_per_device_emu_p99_worst_us",
                            "sc1_${kind}_per_device_emu_p99_worst_us"),
                  "loaded": ("ldsc${n}_${kind}_per_device_emu_p99_worst_us",
                             "ldsc1_${kind}_per_device_emu_p99_worst_us"),
                  "target": "(reported: what is ours)", "quiet_extra": _starved(""),
                  "loaded_extra": _starved("ld")},
             ]},
            {"id": "3-$n-bare",
             "when": "#sc${n}_bare_per_stream_p99_worst_us||#ldsc${n}_bare_per_stream_p99_worst_us",
             "what": "the floor: $n bare streams (bench_stream), worst stream p99 against 1 bare "
                     "stream of the same state",
             "quiet": ("sc${n}_bare_per_stream_p99_worst_us", "sc1_bare_per_stream_p99_worst_us"),
             "loaded": ("ldsc${n}_bare_per_stream_p99_worst_us",
                        "ldsc1_bare_per_stream_p99_worst_us"),
             "target": "(reported: what this machine allows)"},
            {"id": "3-$n-vs-bare",
             "when": ["$n!=1", "#sc${n}_bare_per_stream_p99_worst_us||"
                               "#ldsc${n}_bare_per_stream_p99_worst_us"],
             "what": "$n devices against $n bare streams: worst device p99 against the worst "
                     "stream's, same state",
             "quiet": ("sc${n}_tm_per_device_p99_worst_us", "sc${n}_bare_per_stream_p99_worst_us"),
             "loaded": ("ldsc${n}_tm_per_device_p99_worst_us",
                        "ldsc${n}_bare_per_stream_p99_worst_us"),
             "target": "(reported)"},
        ]},
    ],
}

# The eSCL rows (bench.sh section 6, issue 12 section 4): every ratio against
# a baseline measured in the same rounds.
ESCL_CLIENTS = [
    {"client": "air", "n": "E1", "key": "${client}${lv}",
     "who": "sane-airscan through Debian's scanimage (-d airscan:e0:NAME --source ADF)",
     "out": "TIFF on tmpfs"},
    {"client": "http", "n": "E2", "key": "${client}${lv}",
     "who": "a plain HTTP client (bench_escl_client: POST ScanSettings, NextDocument until 404)",
     "out": "PNG files on tmpfs, not decoded"},
]

ESCL_CPU = ("client CPU {es_${key}_client_cpu_s:2| s}, scanemu CPU {es_${key}_emu_cpu_s:2| s} "
            "per job")
ESCL_RES = need("#es_${key}_MBps", "{es_${key}_MBps:1| MB/s} ({es_${key}_seconds:3| s}; " + ESCL_CPU,
                when("$client==http&&es_${key}_png_bytes>0&&es_${key}_bytes>0",
                     "; PNG {es_${key}_png_MB:1} MB = 1/{es_${key}_px_per_png:1} of the pixels"),
                ")")
ESCL_NATIVE = ("native, wiascan over usbip → TIFF: {es_native_MBps:1| MB/s} "
               "({es_native_seconds:3| s}; client CPU {es_native_client_cpu_s:2| s}, scanemu CPU "
               "{es_native_emu_cpu_s:2| s} per job)")
ESCL_SANE = ["SANE test backend, {es_pages} × 200×200 mm → TIFF: {es_sane_MBps:1| MB/s}",
             when("es_sane_hung_runs>0", "; {es_sane_hung_runs:0} run(s) hung, left out")]

ESCL = {
    "when": "^es_||^estm_",
    "title": [
        [],
        ["eSCL (issue 12) — {es_pages} pages per job, {es_runs} rounds after a warm-up; in each "
         "round native, SANE test backend, then per PNG level sane-airscan and the plain client, "
         "one after the other against the same scanemu (both fronts). MB = 10^6 bytes of TIFF "
         "written (native, scanimage) or of decoded pixels (plain client; the same bytes)."],
        [],
    ],
    "columns": ["#", "measurement", "result", "baseline (same rounds)", "ratio", "target", ""],
    "rows": [
        {"for": "escl_levels", "rows": [
            {"for": ESCL_CLIENTS, "rows": [
                {"id": "${n}a$tag",
                 "what": "6 eSCL throughput, PNG --png-level $lv, timing off: {es_pages} A4 "
                         "300-dpi colour pages through $who → $out; median of {es_runs} rounds",
                 "result": ESCL_RES, "base": ESCL_NATIVE,
                 "ratio": ("es_${key}_MBps", "es_native_MBps"), "target": "(reported)",
                 "cases": [("$main==1", {"target": "≥ 0.5×", "check": (">=", 0.5)})],
                 "tres": ["es_$key"], "tbase": ["es_native"]},
                {"id": "${n}b$tag", "what": "6 eSCL throughput, per MB (same pass)",
                 "result": ESCL_RES, "base": ESCL_SANE,
                 "ratio": ("es_${key}_MBps", "es_sane_MBps"), "target": "(reported)",
                 "cases": [("$main==1", {"target": "≥ 1.0×", "check": (">=", 1.0)})],
                 "tres": ["es_$key"], "tbase": ["es_sane"]},
                # What the client alone allows: its own CPU time per job
                # (decode, checksums, copies, TIFF write), were scanemu free and
                # the client never waiting.
                {"id": "${n}c$tag",
                 "when": "$client==air&&es_${key}_client_cpu_s>0&&es_${key}_bytes>0",
                 "what": "6 eSCL throughput through sane-airscan against the client's own bound: "
                         "bytes / scanimage's CPU time per job (both threads)",
                 "result": ESCL_RES,
                 "base": "client-bound ceiling {es_${key}_ceil_MBps:1| MB/s} = "
                         "{es_${key}_ceil_vs_native:2|×} native, {es_${key}_ceil_vs_sane:2|×} "
                         "SANE test backend",
                 "ratio": ("es_${key}_MBps", "es_${key}_ceil_MBps"), "target": "(reported)",
                 "tres": ["es_$key"]},
            ]},
        ]},
        {"id": "E3", "when": "^estm_",
         "what": "6 eSCL timing, real clock, 2 ms bands × {estm_bands} ({estm_pages} pages, PNG "
                 "--png-level {estm_png_level}, bench_escl_client): band release − deadline "
                 "p50 / p99 / max",
         "result": "{estm_late_p50_us:1} / {estm_late_p99_us:1} / {estm_late_max_us:1} µs "
                   "({estm_early_bands} early; drift at the end {estm_drift_us:1| µs})",
         "base": "bare timerfd wake-up at the same deadlines, just before (bench_timer): "
                 "{estm_timer_p50_us:1} / {estm_timer_p99_us:1} / {estm_timer_max_us:1} µs",
         "ratio": ("estm_late_p99_us", "estm_timer_p99_us"), "target": "p99 ≤ 1.5× bare timer",
         "check": ("<=", 1.5), "tres": ["estm"], "tbase": ["estm_timer"]},
        {"id": "E3-native", "when": ["^estm_", "#estmn_late_p99_us||timeout_estmn"],
         "what": "6 eSCL timing against the native path: the same profile and pages through "
                 "wiascan over usbip, right after the eSCL job: band release − deadline "
                 "p50 / p99 / max",
         "result": "{estm_late_p50_us:1} / {estm_late_p99_us:1} / {estm_late_max_us:1} µs",
         "base": "native: {estmn_late_p50_us:1} / {estmn_late_p99_us:1} / "
                 "{estmn_late_max_us:1} µs",
         "ratio": ("estm_late_p99_us", "estmn_late_p99_us"), "target": "(reported)",
         "tres": ["estm"], "tbase": ["estmn"]},
    ],
}

# What `benchtool.py table` prints, in order: tables, and the notes on
# commands that ran out of time (results.env keys with these prefixes:
# timeout_* and emu_killed_*), the eSCL ones only with the eSCL table.
DOCUMENT = [
    ("table", MAIN),
    ("table", SIDE),
    ("notes", {"prefixes": ("timeout_", "emu_killed_")}),
    ("table", ESCL),
    ("notes", {"prefixes": ("timeout_es",), "when": ESCL["when"]}),
]

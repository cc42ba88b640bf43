"""bench/tools/benchtool.py: the helpers scripts/bench.sh calls (median,
calc, run) and the tables rendered from row data, on synthetic input."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

import benchrows
import benchtool
from benchrows import need, when

TOOL = os.path.join(os.path.dirname(benchtool.__file__), "benchtool.py")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          timeout=30)


class Median(unittest.TestCase):
    def test_odd_is_the_middle(self):
        self.assertEqual(benchtool.median(["3", "1", "2"]), "2")

    def test_even_is_the_lower_middle(self):
        self.assertEqual(benchtool.median(["4", "1", "3", "2"]), "2")

    def test_numeric_order_and_the_value_as_given(self):
        self.assertEqual(benchtool.median(["10", "9.50", "100"]), "10")
        self.assertEqual(benchtool.median(["0.250"]), "0.250")

    def test_command(self):
        r = tool("median", "0.3", "0.1", "0.2")
        self.assertEqual((r.returncode, r.stdout), (0, "0.2\n"))


class Calc(unittest.TestCase):
    def test_formats(self):
        self.assertEqual(benchtool.fmt_calc(benchtool.calc("5 * 60 / 2.5")), "120")
        self.assertEqual(benchtool.fmt_calc(benchtool.calc("(3 - 1) / 3")), "0.6667")
        self.assertEqual(benchtool.fmt_calc(benchtool.calc("-(2 - 5)")), "3")

    def test_nanosecond_stamps_stay_exact(self):
        self.assertEqual(benchtool.fmt_calc(
            benchtool.calc("(1733212345678901234 - 1733212345000000000) / 1e9")), "0.6789")

    def test_only_arithmetic(self):
        for bad in ("__import__('os')", "2 ** 3", "a + 1"):
            with self.assertRaises(ValueError):
                benchtool.calc(bad)
        r = tool("calc", "1 / 0")
        self.assertEqual((r.returncode, r.stdout), (2, ""))


class Run(unittest.TestCase):
    def test_status_and_times(self):
        with tempfile.TemporaryDirectory() as d:
            t = os.path.join(d, "t")
            r = tool("run", "--times", t, "--", "sh", "-c", "exit 3")
            self.assertEqual(r.returncode, 3)
            keys = dict(line.split("=", 1) for line in read(t).split())
            self.assertEqual(set(keys), {"wall_s", "user_s", "sys_s", "cpu_s", "maxrss_kb"})
            self.assertLess(float(keys["wall_s"]), 10)

    def test_timeout_kills_the_group_and_records_it(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results.env")
            # The sleep is a grandchild: it must go with the group, or the
            # captured output would stay open for 30 s.
            r = tool("run", "--timeout", "0.5", "--kill-after", "1", "--results", res, "--key",
                     "k1", "--label", "a sleeper", "--", "sh", "-c", "sleep 30 & wait")
            self.assertEqual(r.returncode, 124)
            self.assertEqual(read(res), "timeout_k1=a sleeper (killed after 0.5 s)\n")
            self.assertIn("k1: a sleeper timed out", r.stderr)

    def test_kill_after_term_is_ignored(self):
        r = tool("run", "--timeout", "0.3", "--kill-after", "0.3", "--", "sh", "-c",
                 "trap '' TERM; sleep 30")
        self.assertEqual(r.returncode, 124)

    def test_term_reaches_the_group_then_kill(self):
        p = subprocess.Popen([sys.executable, TOOL, "run", "--kill-after", "0.5", "--", "sh", "-c",
                              "trap '' TERM; echo ready; sleep 30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with p:
            self.assertEqual(p.stdout.readline(), "ready\n")
            time.sleep(0.2)
            p.terminate()
            p.communicate(timeout=20)
        self.assertEqual(p.returncode, 128 + 9)

    def test_missing_command(self):
        self.assertEqual(tool("run", "--", "/nonexistent/cmd").returncode, 127)


class RunAll(unittest.TestCase):
    def test_every_copy_with_its_number_and_log(self):
        with tempfile.TemporaryDirectory() as d:
            t = os.path.join(d, "t")
            r = tool("run-all", "--count", "3", "--log", os.path.join(d, "{i}.log"), "--times", t,
                     "--", "sh", "-c", "echo out {i}; echo err {i} >&2")
            self.assertEqual(r.returncode, 0)
            for i in (1, 2, 3):
                self.assertEqual(read(os.path.join(d, f"{i}.log")), f"out {i}\nerr {i}\n")
            self.assertEqual(list(dict(line.split("=", 1) for line in read(t).split())),
                             ["cpu_s"])

    def test_the_first_failing_copy_gives_the_status(self):
        with tempfile.TemporaryDirectory() as d:
            r = tool("run-all", "--count", "4", "--log", os.path.join(d, "{i}.log"), "--", "sh",
                     "-c", "[ {i} -lt 3 ] || exit {i}")
            self.assertEqual(r.returncode, 3)

    def test_timeout_kills_every_group_still_running(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results.env")
            t0 = time.monotonic()
            r = tool("run-all", "--count", "2", "--log", os.path.join(d, "{i}.log"), "--timeout",
                     "0.5", "--kill-after", "1", "--results", res, "--key", "k2", "--label",
                     "a host", "--", "sh", "-c", "[ {i} = 1 ] || { sleep 30 & wait; }")
            self.assertLess(time.monotonic() - t0, 20)
            self.assertEqual(r.returncode, 124)
            self.assertEqual(read(res), "timeout_k2=a host 2 of 2 (killed after 0.5 s)\n")
            self.assertIn("k2: a host 2 of 2 timed out", r.stderr)

    def test_needs_a_numbered_log(self):
        self.assertEqual(tool("run-all", "--count", "2", "--log", "/tmp/x.log", "--", "true")
                         .returncode, 2)

    def test_missing_command(self):
        with tempfile.TemporaryDirectory() as d:
            r = tool("run-all", "--count", "2", "--log", os.path.join(d, "{i}.log"), "--",
                     "/nonexistent/cmd")
            self.assertEqual(r.returncode, 127)


TABLE = {
    "when": "^x_",
    "title": [["Title {date}", when("quick==1", " (quick)")], []],
    "columns": ["#", "measurement", "result", "baseline", "ratio", "target", ""],
    "rows": [
        {"id": "A", "what": "a of {x_pages} pages", "result": need("#x_a", "{x_a:1| MB/s}"),
         "base": "b: {x_b:1| MB/s}", "ratio": ("x_a", "x_b"), "target": "≥ 0.5×",
         "check": (">=", 0.5), "tres": ["ta"], "tbase": ["tb"]},
        {"for": [{"k": "p"}, {"k": "q"}], "when": "x_${k}_on", "rows": [
            {"id": "B-$k", "what": "loop $k", "result": "{x_$k:0}", "base": "const",
             "ratio": ("x_$k", 4), "target": "(reported)",
             "cases": [("$k==q", {"target": "≤ 1×", "check": ("<=", 1)})]},
        ]},
        {"id": "C", "when": "#x_c", "what": "c", "result": "{x_c:2}", "base": "-",
         "ratio": "x_c", "target": "(reported)"},
    ],
}


def render(env, table=TABLE):
    return benchtool.render([("table", table), ("notes", {"prefixes": ("timeout_",)})], env)


class Table(unittest.TestCase):
    ENV = {"date": "today", "quick": "1", "x_pages": "5", "x_a": "600", "x_b": "1000",
           "x_p_on": "1", "x_p": "2", "x_q_on": "1", "x_q": "8"}

    def test_rows_from_data(self):
        self.assertEqual(render(self.ENV), [
            "Title today (quick)",
            "",
            "| # | measurement | result | baseline | ratio | target | |",
            "|---|---|---|---|---|---|---|",
            "| A | a of 5 pages | 600.0 MB/s | b: 1,000.0 MB/s | 0.60× | ≥ 0.5× | **met** |",
            "| B-p | loop p | 2 | const | 0.50× | (reported) | n/a |",
            "| B-q | loop q | 8 | const | 2.00× | ≤ 1× | **missed** |",
        ])

    def test_missing_values_and_conditions(self):
        env = dict(self.ENV, quick="0", x_c="nan")
        del env["x_a"], env["x_pages"], env["x_q_on"]
        lines = render(env)
        self.assertEqual(lines[0], "Title today")
        self.assertEqual(lines[4], "| A | a of ? pages | n/a | b: 1,000.0 MB/s | n/a | ≥ 0.5× | n/a |")
        self.assertEqual([ln.split(" | ")[0] for ln in lines[4:]], ["| A", "| B-p"])

    def test_timed_out(self):
        lines = render(dict(self.ENV, timeout_tb="bench_x (killed after 9 s)"))
        self.assertEqual(lines[4], "| A | a of 5 pages | 600.0 MB/s | b: n/a (timed out) | n/a "
                                   "| ≥ 0.5× | n/a |")
        self.assertEqual(lines[-1], "Timed out (bounded by BENCH_TIMEOUT, killed; the run went "
                                    "on): tb: bench_x (killed after 9 s).")

    def test_no_table_without_its_keys(self):
        self.assertEqual(render({"date": "today"}), [])

    def test_pipes_are_escaped(self):
        env = dict(self.ENV, x_pages="a|b")
        self.assertIn("a of a\\|b pages", render(env)[4])

    def test_pairs(self):
        table = {"title": [], "pairs": True, "columns": ["#", "m", "q", "qb", "qr", "l", "lb", "lr",
                                                         "t", "v"],
                 "rows": [{"id": "P", "what": "m", "quiet": ("q", "qb"), "loaded": ("l", "lb"),
                           "target": "≤ 1.5×", "limits": (1.5, None),
                           "loaded_extra": "; {n} x"}]}
        lines = render({"q": "10", "qb": "10", "l": "30", "lb": "10", "n": "3"}, table)
        self.assertEqual(lines[2], "| P | m | 10.0 µs | 10.0 µs | 1.00× | 30.0 µs; 3 x | 10.0 µs "
                                   "| 3.00× | ≤ 1.5× | **met** / (reported) |")

    def test_pairs_with_a_floor(self):
        """A verdict says how the floor fared against the same limit."""
        table = {"title": [], "pairs": True, "columns": ["#", "m", "q", "qb", "qr", "l", "lb", "lr",
                                                         "t", "v"],
                 "rows": [{"id": "F", "what": "m", "quiet": ("q", "qb"), "loaded": ("l", "lb"),
                           "target": "≤ 2×", "limits": (2.0, 2.0),
                           "floor": {"quiet": ("fq", "fqb"), "loaded": ("fl", "flb")}}]}
        env = {"q": "30", "qb": "10", "l": "30", "lb": "10", "fq": "50", "fqb": "10",
               "fl": "15", "flb": "10"}
        self.assertTrue(render(env, table)[2].endswith(
            "| ≤ 2× | **missed** (floor 5.00×, missed too) / **missed** (floor 1.50×) |"))
        del env["fl"]  # no floor measured: the verdict alone
        self.assertTrue(render(dict(env, q="15"), table)[2].endswith(
            "| ≤ 2× | **met** (floor 5.00×, missed too) / **missed** |"))


    def test_a_list_of_passes(self):
        """A value of several words (KEY_passes) is each word formatted."""
        table = {"title": [], "columns": ["#", "m", "r", "b", "x", "t", ""],
                 "rows": [{"id": "R", "what": "m",
                           "result": ["{w:1| µs}", when("w_passes", "; passes {w_passes:1| µs}")],
                           "base": "-", "ratio": ("w", 1), "target": "(reported)"}]}
        self.assertEqual(render({"w": "120", "w_passes": "1200.25 120 n/a"}, table)[2],
                         "| R | m | 120.0 µs; passes 1,200.2, 120.0, n/a µs | - | 120.00× "
                         "| (reported) | n/a |")
        self.assertEqual(render({"w": "120"}, table)[2],
                         "| R | m | 120.0 µs | - | 120.00× | (reported) | n/a |")


class PickMedian(unittest.TestCase):
    """bench.sh median_of_passes: which repeat of a pass is reported."""

    def passes(self, d, *values):
        paths = []
        for i, v in enumerate(values):
            p = os.path.join(d, f"p{i + 1}.env")
            with open(p, "w", encoding="utf-8") as f:
                f.write(f"other=pass{i + 1}\n" + ("" if v is None else f"k={v}\n"))
            paths.append(p)
        return paths

    def test_the_median_pass_and_every_value(self):
        with tempfile.TemporaryDirectory() as d:
            into = os.path.join(d, "results.env")
            with open(into, "w", encoding="utf-8") as f:
                f.write("before=1\n")
            r = tool("pick-median", "--into", into, "k", *self.passes(d, "900.5", "100", "120"))
            self.assertEqual((r.returncode, r.stdout), (0, "3\n"))
            self.assertEqual(read(into), "before=1\nother=pass3\nk=120\nk_passes=900.5 100 120\n")

    def test_even_count_takes_the_lower_middle(self):
        envs = [{"k": "4"}, {"k": "1"}, {"k": "3"}, {"k": "2"}]
        self.assertEqual(benchtool.pick_median("k", envs), 3)

    def test_a_failed_pass_is_reported_not_hidden(self):
        with tempfile.TemporaryDirectory() as d:
            into = os.path.join(d, "results.env")
            r = tool("pick-median", "--into", into, "k", *self.passes(d, "100", None, "120"))
            self.assertEqual((r.returncode, r.stdout), (0, "2\n"))
            self.assertEqual(read(into), "other=pass2\nk_passes=100 n/a 120\n")
        self.assertEqual(benchtool.pick_median("k", [{"k": "1"}, {"k": "nan"}]), 1)

    def test_no_pass_files(self):
        with tempfile.TemporaryDirectory() as d:
            r = tool("pick-median", "--into", os.path.join(d, "r.env"), "k")
            self.assertEqual(r.returncode, 2)
            self.assertIn("no pass files", r.stderr)


class BenchRows(unittest.TestCase):
    """The shipped row data renders, every row id in its place."""

    def test_ids(self):
        env = {"sc_devices": "1 8 32", "tmrt_bands": "1", "sc8_tmrt_bands": "1",
               "es_levels": "1 0", "es_native_MBps": "1", "estm_late_p99_us": "1",
               "es_air1_client_cpu_s": "1", "es_air1_bytes": "1", "ldtm_timer_p99_us": "1",
               "sc32_tm_per_device_emu_p99_worst_us": "1",
               "sc32_tm_per_device_p99_worst_us": "1", "sc32_bare_per_stream_p99_worst_us": "1"}
        lines = benchtool.render(benchrows.DOCUMENT, env)
        ids = [ln.split(" | ")[0][2:] for ln in lines if ln.startswith("| ") and
               not ln.startswith("| # ")]
        self.assertEqual(ids, [
            "1a", "1b", "1c", "2a", "2b", "2c", "2a-rt", "2b-rt", "2c-rt",
            "3-1", "3-1", "3-1", "3-8", "3-8", "3-8-rt", "3-8", "3-32", "3-32", "3-32-emu", "3-32-bare",
            "3-32-vs-bare", "3-32",
            "4", "4", "5a", "5b", "5c", "5c",
            "2a", "2a-emu", "T", "2a-rt", "2a-rt-emu", "T-rt", "3-8-rt", "3-8-rt-emu",
            "3-32-bare", "3-32-vs-bare",
            "E1a", "E1b", "E1c", "E2a", "E2b", "E1a-L0", "E1b-L0", "E2a-L0", "E2b-L0", "E3"])


if __name__ == "__main__":
    unittest.main()

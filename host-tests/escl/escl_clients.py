#!/usr/bin/python3
"""Debian's own eSCL clients against scanemu's eSCL front (issue 12, part 3).

One check per invocation; CMake registers every name `--list` prints as its
own CTest test (label `escl`):

    escl_clients.py CHECK --scanemu PATH --wiascan PATH --root REPO --tmp DIR
    escl_clients.py --list

The judges are Debian's `scanimage` through sane-airscan (`airscan:e0:NAME`)
and through sane-backends' escl backend (`escl:http://127.0.0.1:PORT`), with a
test-local SANE_CONFIG_DIR. The reference is the native protocol: `wiascan`
against a second, fresh scanemu (native front only, built-in clean scenario,
same profile and seed). Both are decoded with Pillow and compared byte for
byte.

Checks:
  <client>.scan.<case>        pages and pixels equal to the native scan
  <client>.fault.<scenario>   every shipped fault scenario: the exact line
                              scanimage prints, its exit status, and the pages
                              before the fault pixel-equal to native pages
  <client>.quirk.<scenario>   every eSCL quirk scenario (escl-*.yaml): the
                              client's workaround engages and the scan
                              succeeds, or the failure the client's source
                              predicts
  http.<attack>               bad input to the HTTP listener from raw sockets
                              while a real client scans
  scenarios.covered           every fixtures/scenarios/*.yaml has a row here

Every check ends by sending scanemu SIGTERM: it must exit 0 within a bounded
wait and print nothing from AddressSanitizer/UBSan.

Where an expectation comes from a client's source, the row says which file
(sane-airscan 0.99.27 as in Debian 12; sane-backends 1.2.1's backend/escl and
frontend/scanimage.c). Debian's /usr/bin/python3 is used: Pillow comes from
python3-pil. Only stdlib and Pillow.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

from PIL import Image, ImageOps, ImageSequence

# ---------------------------------------------------------------- constants --

CLIENTS = ('airscan', 'escl-backend')

# Bounded waits (never a pass/fail criterion on their own).
PORT_FILE_WAIT_S = 10.0
SCAN_TIMEOUT_S = 60.0        # one scanimage run
TERM_WAIT_S = 10.0           # scanemu's exit after SIGTERM
HTTP_REPLY_WAIT_S = 10.0     # a raw-socket attack gets its 4xx or close
SLOWLORIS_BOUND_S = 30.0     # the listener drops a request dribbling 1 B/100 ms
HANG_OBSERVE_S = 3.0         # a client expected to hang is watched this long
IDLE_WAIT_S = 10.0           # a timed device leaves its lamp warm-up
RSS_GROWTH_LIMIT_KB = 32 * 1024   # VmRSS after an attack vs. after a warm-up scan

# SANE_Status values and sane_strstatus() texts (sane-backends
# include/sane/sane.h, backend/sane_strstatus.c). scanimage exits with the
# status (frontend/scanimage.c, scanimage_exit(status)), except that a batch
# with no --batch-count ending in NO_DOCS after at least one page exits 0.
SANE_STATUS = {
    'UNSUPPORTED': (1, 'Operation not supported'),
    'CANCELLED': (2, 'Operation was canceled'),
    'DEVICE_BUSY': (3, 'Device busy'),
    'INVAL': (4, 'Invalid argument'),
    'JAMMED': (6, 'Document feeder jammed'),
    'NO_DOCS': (7, 'Document feeder out of documents'),
    'COVER_OPEN': (8, 'Scanner cover is open'),
    'IO_ERROR': (9, 'Error during device I/O'),
    'NO_MEM': (10, 'Out of memory'),
}

SOURCE_OPT = {'flatbed': 'Flatbed', 'adf': 'ADF', 'duplex': 'ADF Duplex'}
MODE_OPT = {'gray': 'Gray', 'color': 'Color'}


class CheckFailed(Exception):
    pass


T0 = time.monotonic()


def log(msg):
    print('[%6.2f] %s' % (time.monotonic() - T0, msg), flush=True)


# ------------------------------------------------------------ expectations --

class Expect:
    """What scanimage must do: `pages` complete pages, then one of
      - a clean end (status None: the --batch-count was reached);
      - the line "scanimage: <phase>: <sane_strstatus(status)>" and the exit
        status scanimage derives from it; `phase` is 'sane_start',
        'sane_read', or both when the client's threads race for it;
      - death by `crash` (a signal number);
      - hang=True: still running, waiting for the device, HANG_OBSERVE_S
        after the pages arrived (the test then kills it).
    `why` names the client source that predicts it."""

    def __init__(self, pages, status=None, phase='sane_start', crash=None,
                 hang=False, why=''):
        self.pages = pages
        self.status = status
        self.phases = (phase,) if isinstance(phase, str) else tuple(phase)
        self.crash = crash
        self.hang = hang
        self.why = why

    def describe(self, batch_count=None):
        if self.crash:
            what = 'killed by %s' % signal.Signals(self.crash).name
        elif self.hang:
            what = 'waiting for the device (hung)'
        elif self.status:
            what = '"scanimage: %s: %s", exit %d' % (
                '|'.join(self.phases), SANE_STATUS[self.status][1],
                self.exit_code(batch_count))
        else:
            what = 'clean end, exit 0'
        return '%d page(s), then %s' % (self.pages, what)

    def exit_code(self, batch_count=None):
        if self.status is None:
            return 0
        if self.status == 'NO_DOCS' and self.pages > 0 and not batch_count:
            return 0
        return SANE_STATUS[self.status][0]


def ok(pages, why=''):
    """A feeder job that scans `pages` pages and ends the way both clients
    understand: NextDocument 404, AdfState ScannerAdfEmpty (DESIGN §8).
    scanimage prints NO_DOCS and, having scanned pages, exits 0."""
    return Expect(pages, 'NO_DOCS', 'sane_start', why=why or 'the end of an ADF job')


# Client-source facts the tables below rely on; a failure quotes them.
# sane-airscan 0.99.27 is Debian 12's; newer releases differ (see the quirks).
AIRSCAN_CUT = ('sane-airscan 0.99.27 airscan-http.c: a body cut short (no last chunk, '
               'or a reset) completes the query with an error ("connection closed by '
               'device" or the parser\'s); its onerror is device_http_onerror '
               '(airscan-device.c), which cancels the job with SANE_STATUS_IO_ERROR '
               'without reading ScannerStatus; the pages already received stay readable')
AIRSCAN_NO_DOCS = ('sane-airscan 0.99.27 airscan-escl.c escl_status_decode: after a refused '
                   'ScanJobs or NextDocument it reads ScannerStatus; for the ADF, AdfState '
                   'ScannerAdfEmpty is SANE_STATUS_NO_DOCS')
AIRSCAN_COVER = ('sane-airscan 0.99.27 airscan-escl.c escl_parse_scanner_status: '
                 'ScannerAdfDoorOpen is SANE_STATUS_COVER_OPEN, which '
                 'escl_decode_scanner_status reports for an ADF job after the refused '
                 'ScanJobs (409)')
AIRSCAN_MULTIPICK = ('sane-airscan 0.99.27 airscan-escl.c escl_parse_scanner_status does not '
                     'know ScannerAdfMultipickDetected (SANE_STATUS_UNSUPPORTED), so '
                     'escl_status_decode falls back to pwg:State (Idle once the job ended) '
                     'and turns the NextDocument 404 of an ADF job into SANE_STATUS_NO_DOCS')
AIRSCAN_503 = ('sane-airscan 0.99.27 airscan-escl.c escl_status_decode: HTTP 503 with a '
               'status of Idle, Processing or Testing (warm-up) retries the operation '
               'after ESCL_RETRY_PAUSE (1 s), up to ESCL_RETRY_ATTEMPTS (10; 30 for '
               'NextDocument)')
AIRSCAN_GEOMETRY = ('sane-airscan 0.99.27 sizes the page from its scan window: lines = '
                    'roundl(MaxHeight/300 inch x dpi) (airscan.h math_mm2px_res, '
                    'airscan-devops.c), pads a shorter image with 0xff and crops a longer '
                    'one (airscan-device.c device_read_next)')
AIRSCAN_NO_RETRY_404 = ('sane-airscan 0.99.27 has no retry on NextDocument 404/410 '
                        '(quirk_retry_on_404/410 for Xerox B205/B215 came in 2025, commit '
                        '6e5222c): escl_status_decode reads ScannerStatus, pwg:State '
                        'Processing gives SANE_STATUS_DEVICE_BUSY, and the job ends without '
                        'a page; whether sane_start or the first sane_read reports it is a '
                        'race between the API thread and the job\'s event loop')
AIRSCAN_LOAD_DELAY = ('sane-airscan 0.99.27 airscan-escl.c escl_load_decode: for every ADF '
                      'model, the next NextDocument waits min(1000 ms, 0.5 x the previous '
                      'one\'s duration) (ESCL_NEXT_LOAD_DELAY; Brother-only since 2024); a '
                      '~0.8 s page with timing on gives ~0.4 s, more than the 300 ms asked')
ESCL_CUT = ('sane-backends 1.2.1 backend/escl/escl_scan.c escl_scan: on a curl error '
            '(a cut body is CURLE_PARTIAL_FILE, a reset CURLE_RECV_ERROR) it fclose()s '
            'scanner->tmp, sets it to NULL and real_read to 0, then "if (real_read == 0) '
            'fclose(scanner->tmp)" calls fclose(NULL): scanimage dies of SIGSEGV; the '
            'pages before are already renamed to their final names')
ESCL_PRECHECK = ('sane-backends 1.2.1 backend/escl/escl.c sane_start -> escl_status '
                 '(escl_status.c): the first sane_start of an ADF job refuses unless '
                 'AdfState is ScannerAdfLoaded (ScannerAdfJam: JAMMED, ScannerAdfDoorOpen: '
                 'COVER_OPEN, ScannerAdfEmpty: NO_DOCS)')
ESCL_404 = ('sane-backends 1.2.1 backend/escl/escl_scan.c: curl does not fail on an HTTP '
            'error status and an empty NextDocument body (real_read == 0) is '
            'SANE_STATUS_NO_DOCS, whatever ScannerStatus says')
ESCL_FLIP = ('sane-backends 1.2.1 backend/escl/escl_png.c get_PNG_data points row i at '
             'surface row h-1-i and sane_read returns the surface top to bottom: every '
             'PNG page comes out upside down, so its pages are compared with the native '
             'page flipped vertically')
ESCL_GRAY = ('sane-backends 1.2.1 backend/escl/escl_png.c get_PNG_data accepts only '
             'PNG_COLOR_TYPE_RGB(_ALPHA) and answers any other PNG (Grayscale8 here) with '
             'SANE_STATUS_NO_MEM')
ESCL_NO_PLATEN = ('sane-backends 1.2.1 backend/escl/escl_capabilities.c keeps the source '
                  'names in fixed slots of a NULL-terminated list (Sources[PLATEN] first): '
                  'with no scan:Platen the list is empty, and setting --source on such a '
                  'device (fast-duplex.yaml) crashes scanimage; only the default source '
                  '(ADF simplex) can be scanned, by not passing --source')
ESCL_503_POST = ('sane-backends 1.2.1 backend/escl/escl_newjob.c: a ScanJobs answer whose '
                 'headers contain "503 Service Unavailable" is retried 3 more times, '
                 'usleep(250) (microseconds) apart, then SANE_STATUS_DEVICE_BUSY; '
                 'pwg:State Testing passes its pre-check (escl_status.c: unknown state, '
                 'AdfState decides)')
ESCL_HACK = ('sane-backends 1.2.1 backend/escl/escl.c _get_hack: a model name containing '
             '"LaserJet MFP M630" adds "Host: localhost" to every request after '
             'ScannerCapabilities (SANE_DEBUG_ESCL logs "Use hack")')
HANG = ('the front withholds the band and keeps the connection open (docs/escl.md); '
        'sane-airscan 0.99.27 has no NextDocument timeout (DEVICE_HTTP_TIMEOUT_LOAD -1) '
        'and the escl backend\'s curl none either')


class Row:
    """One scenario: how it is scanned and what each client must do."""

    def __init__(self, scenario, airscan, escl, source='adf', mode='color',
                 dpi=75, timing=False, batch_count=None, native=False,
                 corrupt=None, evidence=None, absent=None, note=''):
        self.scenario = scenario          # file name in fixtures/scenarios
        self.expect = {'airscan': airscan, 'escl-backend': escl}
        self.source, self.mode, self.dpi = source, mode, dpi
        self.timing = timing              # False: scanemu --no-timing
        self.batch_count = batch_count    # scanimage --batch-count
        self.native = native              # expectation derived from wiascan's run
        self.corrupt = corrupt            # (page, first row, end row): one inverted byte
        self.evidence = evidence or {}    # client -> regex its debug log must show
        self.absent = absent or {}        # client -> regex its debug log must not show
        self.note = note                  # what the row assumes of the front


def cut(pages):
    """The page in progress ends with a cut chunked body or a reset."""
    return (Expect(pages, 'IO_ERROR', 'sane_start' if pages else 'sane_read',
                   why=AIRSCAN_CUT),
            Expect(pages, crash=signal.SIGSEGV, why=ESCL_CUT))


# Faults: every shipped scenario that is not an eSCL quirk, mapped as
# docs/escl.md "Faults" says: a fault before any byte of a page is a
# NextDocument 404 (the status says why), one mid-page a cut body. Scanned
# from the ADF in colour at 75 dpi with --no-timing: timing plays no part,
# and the escl backend cannot read grayscale PNG (ESCL_GRAY).
FAULTS = [
    Row('clean.yaml', ok(10), ok(10)),
    Row('clean-fast.yaml', ok(10), ok(10)),
    Row('delay-500ms.yaml', ok(10), ok(10)),
    Row('jam-page3-band5.yaml', *cut(2),
        note='mid-page: sane-airscan cannot say "Document feeder jammed" for a jam the '
             'device reports by cutting the page (it would for a NextDocument 404 with '
             'ScannerAdfJam)'),
    Row('cover-open.yaml', *cut(1)),
    Row('multi-feed.yaml', ok(1, AIRSCAN_MULTIPICK), ok(1, ESCL_404),
        note='band 1: NextDocument 404 with ScannerAdfMultipickDetected, pwg:State Idle'),
    Row('short-band.yaml', *cut(1), note='the rows that came, then the body is cut'),
    Row('corrupt-band.yaml', ok(10), ok(10), corrupt=(2, 6 * 64, 7 * 64),
        note='a valid PNG whose page 2 has the one byte the scenario inverts, in band '
             '7 (default.yaml bands are 64 lines)'),
    Row('disconnect-mid-page.yaml', *cut(1), dpi=150,
        note='reset mid-body; 150 dpi: band 20 exists only above 75 dpi (14 bands a page)'),
    Row('stall-mid-page.yaml', *cut(1),
        note='HTTP has no halt to clear: the page is aborted, even for a stall that '
             'clears natively'),
    Row('stall-no-clear.yaml', *cut(1)),
    Row('band-never-comes.yaml', Expect(1, hang=True, why=HANG),
        Expect(1, hang=True, why=HANG)),
    Row('feeder-empty.yaml',
        Expect(0, 'NO_DOCS', 'sane_start', why=AIRSCAN_NO_DOCS + ' (ScanJobs: 409)'),
        Expect(0, 'NO_DOCS', 'sane_start', why=ESCL_PRECHECK)),
    Row('feeder-empty-after-2.yaml', ok(2, AIRSCAN_NO_DOCS), ok(2, ESCL_404)),
    Row('cover-open-at-start.yaml',
        Expect(0, 'COVER_OPEN', 'sane_start', why=AIRSCAN_COVER),
        Expect(0, 'COVER_OPEN', 'sane_start', why=ESCL_PRECHECK),
        note='AdfState ScannerAdfDoorOpen already before the first job (a cover sensor '
             'knows), ScanJobs refused with 409; if the status says ScannerAdfLoaded until '
             'a START_JOB is refused, the escl backend passes its pre-check and reads the '
             '"409 Conflict" as SANE_STATUS_NO_DOCS (escl_newjob.c)'),
    Row('busy.yaml', ok(10, AIRSCAN_503), ok(10, ESCL_503_POST),
        evidence={'airscan': r'POST \S+ScanJobs: 503'},
        note='one 503 to POST ScanJobs while pwg:State stays Idle'),
    Row('warming-up-2s.yaml', ok(10, AIRSCAN_503),
        Expect(0, 'DEVICE_BUSY', 'sane_start', why=ESCL_503_POST),
        evidence={'airscan': r'POST \S+ScanJobs: 503'},
        note='503 to POST ScanJobs and pwg:State Testing for 2 s from power-on'),
    Row('random-faults.yaml', None, None, native=True,
        note='derived at run time from wiascan on the same scenario'),
]

# eSCL quirks (fixtures/scenarios/escl-*.yaml, docs/escl.md "Quirks"). Each
# reports the model whose sane-airscan workaround it exercises; Debian 12's
# sane-airscan 0.99.27 predates some of them, and then the row expects the
# failure its source predicts.
QUIRKS = [
    Row('escl-503-storm.yaml', ok(3, AIRSCAN_503), Expect(0, 'NO_DOCS', why=ESCL_404),
        evidence={'airscan': r'GET \S+NextDocument: 503'}),
    Row('escl-brother-load-delay.yaml', ok(3, AIRSCAN_LOAD_DELAY),
        ok(1, ESCL_404 + '; its next NextDocument comes within the 300 ms (a status '
                         'request or two after decoding the page), answered 503'),
        timing=True,
        evidence={'airscan': r'PROTO_OP_LOAD: decoded: status="Success" '
                             r'next=PROTO_OP_LOAD delay=[1-9]'},
        note='timing on: the escl backend row assumes it asks again within 300 ms; '
             'sane-airscan waits half the last load before the next, which is shorter '
             'than 300 ms when a page had already been scanned by the time it was asked '
             'for, so a 503 may still come (and is retried): the check is that the '
             'delay engages and the scan succeeds'),
    Row('escl-hp-localhost.yaml',
        ok(2, 'sane-airscan 0.99.27 airscan-escl.c escl_devcaps_parse: MakeAndModel '
              '"HP LaserJet MFP M630" sets quirk_localhost, and escl_scan_query sends '
              'ScanJobs with "Host: localhost" (and follows the Location through '
              'localhost)'),
        ok(2, ESCL_HACK), evidence={'escl-backend': r'Use hack'}),
    Row('escl-slow-response.yaml', ok(2, 'sane-airscan 0.99.27 waits 5 s for '
                                         'capabilities, the pre-check and ScannerStatus '
                                         '(DEVICE_HTTP_TIMEOUT_*), 30 s for ScanJobs'),
        ok(2, 'curl has no timeout by default')),
    Row('escl-stale-empty.yaml',
        ok(3, 'sane-airscan 0.99.27 airscan-escl.c escl_precheck_decode ignores the '
              'pre-scan AdfState except for "MF410 Series"'),
        Expect(0, 'NO_DOCS', why=ESCL_PRECHECK)),
    Row('escl-stale-jam.yaml',
        Expect(0, 'JAMMED', why='sane-airscan 0.99.27 airscan-escl.c '
                                'escl_precheck_decode: for "MF410 Series" a pre-scan '
                                'ScannerAdfJam ends the job before ScanJobs'),
        Expect(0, 'JAMMED', why=ESCL_PRECHECK)),
    Row('escl-xerox-404.yaml',
        Expect(0, 'DEVICE_BUSY', ('sane_start', 'sane_read'), why=AIRSCAN_NO_RETRY_404),
        Expect(0, 'NO_DOCS', why=ESCL_404)),
    Row('escl-xerox-410.yaml',
        Expect(0, 'DEVICE_BUSY', ('sane_start', 'sane_read'), why=AIRSCAN_NO_RETRY_404),
        Expect(0, 'NO_DOCS', why=ESCL_404)),
]

# Determinism: the pixels a client decodes equal the native page bytes.
# case: (profile, sheets (None: the built-in 10), source (None: the client's
# default, not passed), mode, dpi, scanimage --batch-count, pages)
SCANS = {
    'flatbed_color_300': ('default.yaml', None, 'flatbed', 'color', 300, 1, 1),
    'adf_gray_75_5p': ('default.yaml', 5, 'adf', 'gray', 75, None, 5),
    'adf_color_150_3p': ('default.yaml', 3, 'adf', 'color', 150, None, 3),
    'duplex_gray_200': ('fast-duplex.yaml', 2, 'duplex', 'gray', 200, None, 4),
    'duplex_color_100': ('fast-duplex.yaml', 2, 'duplex', 'color', 100, None, 4),
    'default_source_color_150': ('fast-duplex.yaml', 2, None, 'color', 150, None, 2),
}


def scan_expect(client, case):
    profile, sheets, source, mode, dpi, batch_count, pages = SCANS[case]
    if client == 'escl-backend':
        if source and profile == 'fast-duplex.yaml':
            return Expect(0, crash=signal.SIGSEGV, why=ESCL_NO_PLATEN)
        if mode == 'gray':
            return Expect(0, 'NO_MEM', 'sane_start', why=ESCL_GRAY)
    if batch_count:
        return Expect(pages)
    return ok(pages, 'a %d-sheet feeder job ends with 404 and ScannerAdfEmpty' % sheets)


SEED = 4242


# ------------------------------------------------------------ environment --

class Ctx:
    def __init__(self, args):
        self.scanemu = os.path.abspath(args.scanemu)
        self.wiascan = os.path.abspath(args.wiascan)
        self.root = os.path.abspath(args.root)
        self.tmp = os.path.abspath(args.tmp)
        self.procs = []

    def profile(self, name):
        return os.path.join(self.root, 'fixtures', 'profiles', name)

    def scenario(self, name):
        return os.path.join(self.root, 'fixtures', 'scenarios', name)

    def path(self, *parts):
        p = os.path.join(self.tmp, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def sheets_scenario(self, sheets):
        """A test-local scenario: `sheets` sheets, no faults."""
        p = self.path('sheets-%d.yaml' % sheets)
        with open(p, 'w') as f:
            f.write('name: sheets-%d\ndescription: %d sheets, no faults\nsheets: %d\n'
                    % (sheets, sheets, sheets))
        return p


def wait_port_file(path, proc, what):
    deadline = time.monotonic() + PORT_FILE_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CheckFailed('%s exited with %s before writing %s'
                              % (what, proc.returncode, path))
        try:
            with open(path) as f:
                txt = f.read().strip()
            if txt.isdigit():
                return int(txt)
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise CheckFailed('%s wrote no port to %s within %.0f s' % (what, path, PORT_FILE_WAIT_S))


class Scanemu:
    """One scanemu process. escl=True adds the eSCL listener."""

    def __init__(self, ctx, name, profile, scenario=None, escl=True, timing=False,
                 seed=SEED, extra=()):
        self.ctx, self.name = ctx, name
        d = ctx.path(name, 'x')
        d = os.path.dirname(d)
        self.port_file = os.path.join(d, 'usbip.port')
        self.escl_port_file = os.path.join(d, 'escl.port')
        self.stderr_path = os.path.join(d, 'scanemu.stderr')
        cmd = [ctx.scanemu, '--listen', '127.0.0.1:0', '--port-file', self.port_file]
        if escl:
            cmd += ['--escl-listen', '127.0.0.1:0', '--escl-port-file', self.escl_port_file]
        cmd += ['--device', ctx.profile(profile)]
        if scenario:
            cmd += ['--scenario', scenario]
        cmd += ['--seed', str(seed)]
        if not timing:
            cmd.append('--no-timing')
        cmd += list(extra)
        self.cmd = cmd
        log('$ ' + ' '.join(cmd))
        self.stderr = open(self.stderr_path, 'wb')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr)
        ctx.procs.append(self.proc)
        try:
            self.port = wait_port_file(self.port_file, self.proc, 'scanemu')
            self.escl_port = (wait_port_file(self.escl_port_file, self.proc, 'scanemu')
                              if escl else None)
        except CheckFailed as e:
            raise CheckFailed('%s; its log:\n%s' % (e, self.log_text()[-3000:]))

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise CheckFailed('no VmRSS for scanemu pid %d' % self.proc.pid)

    def log_text(self):
        with open(self.stderr_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def stop(self):
        """SIGTERM; scanemu must exit 0 and sanitizers must be silent."""
        if self.proc.poll() is not None:
            raise CheckFailed('scanemu died early (status %s); its log:\n%s'
                              % (self.proc.returncode, self.log_text()[-4000:]))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(TERM_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise CheckFailed('scanemu did not exit within %.0f s of SIGTERM' % TERM_WAIT_S)
        self.stderr.close()
        text = self.log_text()
        for marker in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:',
                       'ThreadSanitizer'):
            if marker in text:
                raise CheckFailed('scanemu log shows %s:\n%s' % (marker, text[-4000:]))
        if rc != 0:
            raise CheckFailed('scanemu exited %d after SIGTERM (want 0); log:\n%s'
                              % (rc, text[-4000:]))


# ----------------------------------------------------------- native pages --

def native_pages(ctx, profile, source, mode, dpi, pages, scenario=None, tag='native'):
    """wiascan through a fresh native-only scanemu. Returns (pages, exit,
    stderr). The reference process is separate so that the eSCL job's feeder
    and faults are untouched."""
    emu = Scanemu(ctx, tag + '-emu', profile, scenario=scenario, escl=False)
    out = ctx.path(tag, 'native.tiff')
    cmd = [ctx.wiascan, '--transport', 'usbip://127.0.0.1:%d/1-1' % emu.port,
           '--source', source, '--mode', mode, '--dpi', str(dpi),
           '--pages', str(pages), '--seed', str(SEED), '-q', '-o', out]
    log('$ ' + ' '.join(cmd))
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=SCAN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CheckFailed('wiascan did not finish within %.0f s' % SCAN_TIMEOUT_S)
    emu.stop()
    err = r.stderr.decode('utf-8', 'replace')
    ims = []
    if os.path.exists(out):
        with Image.open(out) as tif:
            for page in ImageSequence.Iterator(tif):
                ims.append(page.copy())
    return ims, r.returncode, err


# ------------------------------------------------------------------ SANE --

def sane_config(ctx, escl_port, tag, airscan_debug=False):
    """A SANE_CONFIG_DIR for this test only: static airscan device, discovery
    off, dll.conf with airscan and escl, and a copy of Debian's escl.conf
    (libsane1's escl backend dereferences a NULL FILE* in _get_hack when
    escl.conf is missing)."""
    d = os.path.dirname(ctx.path(tag, 'sane', 'x'))
    url = 'http://127.0.0.1:%d' % escl_port
    with open(os.path.join(d, 'airscan.conf'), 'w') as f:
        f.write('[devices]\n"scanemu" = %s/eSCL, eSCL\n\n'
                '[options]\ndiscovery = disable\nws-discovery = off\n' % url)
        if airscan_debug:
            f.write('\n[debug]\nenable = true\n')
    with open(os.path.join(d, 'dll.conf'), 'w') as f:
        f.write('airscan\nescl\n')
    escl_conf = '/etc/sane.d/escl.conf'
    text = ''
    if os.path.exists(escl_conf):
        with open(escl_conf) as f:
            text = f.read()
    with open(os.path.join(d, 'escl.conf'), 'w') as f:
        f.write(text)
    return d


def no_core_dumps():
    """The escl backend is expected to crash in some checks: no core files."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class ScanResult:
    def __init__(self, rc, stdout, stderr, files, seconds, hung=False):
        self.rc, self.stderr, self.files, self.seconds = rc, stderr, files, seconds
        self.stdout = stdout   # sane-airscan writes its debug log here
        self.hung = hung       # killed by us after HANG_OBSERVE_S

    def brief(self):
        tail = '\n'.join(self.stderr.splitlines()[-25:])
        return '%s after %.1f s, %d page file(s); stderr tail:\n%s' % (
            'killed while hung' if self.hung else 'exit %s' % self.rc,
            self.seconds, len(self.files), tail)


def page_files(outdir):
    names = (f for f in os.listdir(outdir) if re.fullmatch(r'out\d+\.pnm', f))
    return [os.path.join(outdir, f) for f in sorted(names, key=lambda f: int(f[3:-4]))]


def scanimage(ctx, client, cfg, escl_port, source, mode, dpi, tag, batch_count=None,
              timeout=SCAN_TIMEOUT_S, debug=False, hang_after=None):
    """Debian's scanimage in batch mode, PNM pages out%d.pnm in a fresh dir.
    hang_after=N: once N pages are complete, watch it for HANG_OBSERVE_S;
    if it is still running then, kill it and report it hung."""
    outdir = os.path.dirname(ctx.path(tag, 'pages', 'x'))
    for name in os.listdir(outdir):
        os.unlink(os.path.join(outdir, name))
    if client == 'airscan':
        dev = 'airscan:e0:scanemu'
    else:
        dev = 'escl:http://127.0.0.1:%d' % escl_port
    cmd = ['scanimage', '-d', dev]
    if source:
        cmd += ['--source', SOURCE_OPT[source]]
    cmd += ['--mode', MODE_OPT[mode], '--resolution', str(dpi), '--format=pnm',
            '--batch=' + os.path.join(outdir, 'out%d.pnm')]
    if batch_count:
        cmd.append('--batch-count=%d' % batch_count)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('SANE_') and k not in ('LANG', 'LANGUAGE')
           and not k.startswith('LC_')}
    env.update(SANE_CONFIG_DIR=cfg, LC_ALL='C', HOME=os.path.dirname(cfg))
    if debug and client == 'escl-backend':
        env['SANE_DEBUG_ESCL'] = '10'
    log('$ SANE_CONFIG_DIR=%s %s' % (cfg, ' '.join(
        "'%s'" % c if ' ' in c else c for c in cmd)))
    base = os.path.join(os.path.dirname(outdir), 'scanimage-%s' % client)
    t0 = time.monotonic()
    hung = False
    with open(base + '.stdout', 'wb') as out, open(base + '.stderr', 'wb') as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, preexec_fn=no_core_dumps)
        ctx.procs.append(proc)
        deadline = t0 + timeout
        seen_at = None
        while proc.poll() is None:
            now = time.monotonic()
            if hang_after is not None:
                if seen_at is None and len(page_files(outdir)) >= hang_after:
                    seen_at = now
                if seen_at is not None and now - seen_at >= HANG_OBSERVE_S:
                    hung = True
                    break
            if now >= deadline:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            if not hung:
                with open(base + '.stderr', 'rb') as f:
                    tail = f.read().decode('utf-8', 'replace')[-3000:]
                raise CheckFailed('scanimage (%s) did not finish within %.0f s (hung);'
                                  ' stderr tail:\n%s' % (client, timeout, tail))
    with open(base + '.stdout', 'rb') as f:
        stdout = f.read().decode('utf-8', 'replace')
    with open(base + '.stderr', 'rb') as f:
        stderr = f.read().decode('utf-8', 'replace')
    return ScanResult(None if hung else proc.returncode, stdout, stderr, page_files(outdir),
                      time.monotonic() - t0, hung)


# ------------------------------------------------------------- comparison --

def compare_pages(files, ref, label, flip=False, slack=False, corrupt=None):
    """Client pages (PNM files) against native pages (PIL images), byte for
    byte. flip=True: the client turned every page upside down (ESCL_FLIP);
    it is turned back before comparing. slack=True (fault, quirk and attack
    checks with sane-airscan): a page may be one row/column longer (white
    padding) or shorter than native if every shared pixel is equal, since
    sane-airscan sizes the page from its scan window (AIRSCAN_GEOMETRY); the
    *.scan.* checks judge geometry strictly. corrupt=(page, row0, row1): that
    page must differ from native in exactly one byte, inverted, in rows
    [row0, row1). Returns a list of problems naming the first differing
    page and row."""
    problems = []
    if len(files) != len(ref):
        problems.append('%s: %d page(s), native has %d' % (label, len(files), len(ref)))
    for i, (path, nat) in enumerate(zip(files, ref), 1):
        with Image.open(path) as im:
            im.load()
            got = im.copy()
        if flip:
            got = ImageOps.flip(got)
        near = (abs(got.size[0] - nat.size[0]) <= 1 and abs(got.size[1] - nat.size[1]) <= 1)
        if got.size != nat.size and slack and (
                within_slack(got, nat) or (corrupt and corrupt[0] == i and near)):
            log('%s page %d: %dx%d vs native %dx%d, shared pixels equal (geometry '
                'is judged by the *.scan.* checks)' % (label, i, got.size[0], got.size[1],
                                                      nat.size[0], nat.size[1]))
            w, h = min(got.size[0], nat.size[0]), min(got.size[1], nat.size[1])
            got, nat = got.crop((0, 0, w, h)), nat.crop((0, 0, w, h))
        if got.size != nat.size:
            problems.append('%s page %d: %dx%d, native %dx%d%s' % (
                label, i, got.size[0], got.size[1], nat.size[0], nat.size[1],
                size_hint(got, nat)))
            continue
        if nat.mode == 'L' and got.mode == 'RGB':
            r, g, b = got.split()
            if not (r.tobytes() == g.tobytes() == b.tobytes()):
                problems.append('%s page %d: gray scan delivered as RGB with '
                                'unequal channels' % (label, i))
                continue
            got = r
        if got.mode != nat.mode:
            problems.append('%s page %d: mode %s, native %s' % (label, i, got.mode, nat.mode))
            continue
        a, b = got.tobytes(), nat.tobytes()
        bpp = len(nat.getbands())
        stride = nat.size[0] * bpp
        rows = [r for r in range(nat.size[1])
                if a[r * stride:(r + 1) * stride] != b[r * stride:(r + 1) * stride]]
        diffs = [(r, k) for r in rows[:2] for k in range(stride)
                 if a[r * stride + k] != b[r * stride + k]]
        if corrupt and corrupt[0] == i:
            where = '%s page %d (the corrupt band\'s page)' % (label, i)
            if (len(rows) == 1 and len(diffs) == 1 and corrupt[1] <= rows[0] < corrupt[2]
                    and a[rows[0] * stride + diffs[0][1]] ^ 0xFF
                    == b[rows[0] * stride + diffs[0][1]]):
                log('%s: one byte inverted at row %d, as the scenario says' % (where, rows[0]))
            else:
                problems.append('%s: %d row(s) differ from native (first %s), want exactly '
                                'one inverted byte in rows %d..%d' % (
                                    where, len(rows), rows[:1], corrupt[1], corrupt[2] - 1))
            continue
        if not rows:
            continue
        r0, k0 = diffs[0]
        hint = ''
        if ImageOps.flip(nat).tobytes() == a:
            hint = ' (it is the native page upside down)'
        problems.append('%s page %d: %d row(s) differ, the first is row %d, first at '
                        'column %d (got %d, native %d)%s' % (
                            label, i, len(rows), r0, k0 // bpp,
                            a[r0 * stride + k0], b[r0 * stride + k0], hint))
    return problems


def within_slack(got, nat):
    if abs(got.size[0] - nat.size[0]) > 1 or abs(got.size[1] - nat.size[1]) > 1:
        return False
    hint = size_hint(got, nat)
    return 'are equal' in hint and ('NOT' not in hint) and (
        'white padding' in hint or (got.size[0] <= nat.size[0] and got.size[1] <= nat.size[1]))


def size_hint(got, nat):
    """What the rows and columns the two pages share say about a size
    mismatch (airscan pads a short image with 0xff and crops a long one to
    the size it computed from the scan window)."""
    if got.mode != nat.mode and not (nat.mode == 'L' and got.mode == 'RGB'):
        return ''
    g = got.convert(nat.mode) if got.mode != nat.mode else got
    w, h = min(g.size[0], nat.size[0]), min(g.size[1], nat.size[1])
    same = g.crop((0, 0, w, h)).tobytes() == nat.crop((0, 0, w, h)).tobytes()
    hint = '; the shared %dx%d pixels are %s' % (w, h, 'equal' if same else 'NOT equal')
    extra = b''
    if g.size[1] > nat.size[1]:
        extra += g.crop((0, nat.size[1], g.size[0], g.size[1])).tobytes()
    if g.size[0] > nat.size[0]:
        extra += g.crop((nat.size[0], 0, g.size[0], g.size[1])).tobytes()
    if extra and extra.count(255) == len(extra):
        hint += ', the extra pixels are white padding'
    return hint


def check_outcome(res, exp, label, batch_count=None):
    """scanimage's end, error line and page count against Expect."""
    problems = []
    lines = res.stderr.splitlines()
    errors = [l for l in lines if re.match(r'scanimage: (sane_\w+|open of device)', l)]
    if exp.hang:
        if not res.hung:
            problems.append('%s: exit %s, want it still waiting for the device %.0f s '
                            'after page %d' % (label, res.rc, HANG_OBSERVE_S, exp.pages))
    elif res.hung:
        problems.append('%s: hung' % label)
    elif exp.crash:
        if res.rc != -exp.crash:
            problems.append('%s: exit %s, want death by %s' % (
                label, res.rc, signal.Signals(exp.crash).name))
    else:
        want_rc = exp.exit_code(batch_count)
        if res.rc != want_rc:
            problems.append('%s: exit %s, want %d' % (label, res.rc, want_rc))
        if exp.status:
            want = ['scanimage: %s: %s' % (ph, SANE_STATUS[exp.status][1])
                    for ph in exp.phases]
            if not any(w in lines for w in want):
                problems.append('%s: stderr lacks the line "%s"%s' % (
                    label, '" or "'.join(want),
                    ' (it says "%s")' % errors[0] if errors else ''))
        elif errors:
            problems.append('%s: unexpected "%s"' % (label, errors[0]))
    if len(res.files) != exp.pages:
        problems.append('%s: %d page file(s), want %d' % (label, len(res.files), exp.pages))
    return problems


def fail_if(problems, res=None, why=''):
    if problems:
        msg = '\n'.join(problems)
        if why:
            msg += '\nexpected because: ' + why
        if res is not None:
            msg += '\nscanimage ' + res.brief()
        raise CheckFailed(msg)


# ------------------------------------------------------------------ checks --

CHECKS = {}


def check(name, timeout):
    def reg(fn):
        CHECKS[name] = (fn, timeout)
        return fn
    return reg


def run_scan_case(ctx, client, case):
    profile, sheets, source, mode, dpi, batch_count, pages = SCANS[case]
    exp = scan_expect(client, case)
    ref, rc, err = native_pages(ctx, profile, source or 'adf', mode, dpi, pages)
    if rc != 0 or len(ref) != pages:
        raise CheckFailed('native reference: wiascan exit %d, %d page(s):\n%s'
                          % (rc, len(ref), err))
    scen = ctx.sheets_scenario(sheets) if sheets else None
    emu = Scanemu(ctx, 'dut', profile, scenario=scen)
    cfg = sane_config(ctx, emu.escl_port, 'dut')
    res = scanimage(ctx, client, cfg, emu.escl_port, source, mode, dpi, 'dut',
                    batch_count=batch_count)
    problems = check_outcome(res, exp, client, batch_count)
    problems += compare_pages(res.files, ref[:exp.pages], client,
                              flip=client == 'escl-backend')
    fail_if(problems, res, exp.why)
    emu.stop()
    log('%s %s: %s, pages pixel-equal to wiascan\'s' % (client, case, exp.describe()))
    if exp.why:
        log('  because: ' + exp.why)


def wait_idle(emu):
    """A device with timing on warms its lamp up first (pwg:State Testing);
    the escl backend would take the 503 for busy. Bounded wait for Idle."""
    deadline = time.monotonic() + IDLE_WAIT_S
    while time.monotonic() < deadline:
        code, _, body = parse_response(raw_exchange(
            emu.escl_port, http_request('GET', '/eSCL/ScannerStatus'))[0])
        if code == 200 and b'>Idle<' in body:
            return
        time.sleep(0.1)
    raise CheckFailed('pwg:State not Idle within %.0f s' % IDLE_WAIT_S)


def run_row(ctx, client, row, kind):
    path = ctx.scenario(row.scenario)
    if not os.path.exists(path):
        raise CheckFailed('%s not found: the %s table names a scenario the tree '
                          'does not have (rename the row or add the file)' % (path, kind))
    profile = 'default.yaml'
    exp = row.expect[client]
    if row.native:
        exp = derive_from_native(ctx, row, client, profile, path)
    want = exp.pages if not row.batch_count else row.batch_count
    ref, rc, err = native_pages(ctx, profile, row.source, row.mode, row.dpi,
                                max(want, 1))
    if rc != 0:
        raise CheckFailed('native reference: wiascan exit %d:\n%s' % (rc, err))
    emu = Scanemu(ctx, 'dut', profile, scenario=path, timing=row.timing)
    debug = client in row.evidence or client in row.absent
    cfg = sane_config(ctx, emu.escl_port, 'dut', airscan_debug=debug)
    if row.timing:
        wait_idle(emu)
    res = scanimage(ctx, client, cfg, emu.escl_port, row.source, row.mode, row.dpi,
                    'dut', batch_count=row.batch_count, debug=debug,
                    hang_after=exp.pages if exp.hang else None)
    problems = check_outcome(res, exp, client, row.batch_count)
    problems += compare_pages(res.files, ref[:len(res.files)], client,
                              flip=client == 'escl-backend', slack=client == 'airscan',
                              corrupt=row.corrupt)
    pattern = row.evidence.get(client)
    if pattern and not re.search(pattern, res.stdout + res.stderr):
        problems.append('%s: its debug log never shows /%s/: the workaround did '
                        'not engage' % (client, pattern))
    pattern = row.absent.get(client)
    if pattern and re.search(pattern, res.stdout + res.stderr):
        problems.append('%s: its debug log shows /%s/: the workaround did not '
                        'avoid it' % (client, pattern))
    if problems and row.note:
        problems.append('this row assumes: ' + row.note)
    fail_if(problems, res, exp.why)
    emu.stop()
    log('%s %s: %s' % (client, row.scenario, exp.describe(row.batch_count)))
    if exp.why:
        log('  because: ' + exp.why)


def derive_from_native(ctx, row, client, profile, path):
    """random-faults: wiascan on the same scenario decides the pages and the
    fault, mapped as docs/escl.md says (before any byte of a page: 404 and
    the status; mid-page: a cut body)."""
    ref, rc, err = native_pages(ctx, profile, row.source, row.mode, row.dpi, 0,
                                scenario=path, tag='native-scenario')
    log('wiascan on %s: exit %d, %d page(s) %s' % (row.scenario, rc, len(ref), err.strip()))
    if rc == 0:
        return ok(len(ref), 'wiascan finished the scenario without a fault')
    m = re.search(r'\(([a-z -]+) at page \d+ band (\d+)\)', err)
    if not m:
        raise CheckFailed('cannot read the fault from wiascan\'s message: %s' % err)
    kind, band = m.group(1), int(m.group(2))
    if band > 1:
        a, e = cut(len(ref))
        return a if client == 'airscan' else e
    if client == 'escl-backend':
        return ok(len(ref), ESCL_404) if ref else Expect(0, 'NO_DOCS', why=ESCL_404)
    status = {'paper jam': 'JAMMED', 'cover open': 'COVER_OPEN'}.get(kind, 'NO_DOCS')
    phase = 'sane_start' if ref else ('sane_start', 'sane_read')
    if status == 'NO_DOCS':
        return ok(len(ref), AIRSCAN_MULTIPICK) if ref else Expect(0, 'NO_DOCS', phase)
    return Expect(len(ref), status, phase, why=AIRSCAN_NO_DOCS)


def register_tables():
    for client in CLIENTS:
        for case in SCANS:
            check('%s.scan.%s' % (client, case), 120)(
                lambda ctx, client=client, case=case: run_scan_case(ctx, client, case))
        for row in FAULTS:
            name = row.scenario[:-5]
            check('%s.fault.%s' % (client, name), 90)(
                lambda ctx, client=client, row=row: run_row(ctx, client, row, 'FAULTS'))
        for row in QUIRKS:
            name = row.scenario[:-5]
            check('%s.quirk.%s' % (client, name), 120)(
                lambda ctx, client=client, row=row: run_row(ctx, client, row, 'QUIRKS'))


register_tables()


@check('scenarios.covered', 30)
def scenarios_covered(ctx):
    d = os.path.join(ctx.root, 'fixtures', 'scenarios')
    files = sorted(f for f in os.listdir(d) if f.endswith('.yaml'))
    rows = [r.scenario for r in FAULTS + QUIRKS]
    # timing-*.yaml reproduce host-driver timing bugs over the native
    # interface (docs/timing-bugs.md; test_dm_timing_bugs, test_emu_timing_bug_*),
    # not an eSCL fault or quirk.
    files = [f for f in files if not f.startswith('timing-')]
    problems = ['%s has no row in FAULTS or QUIRKS' % f for f in files if f not in rows]
    problems += ['row %s names no file in fixtures/scenarios' % r for r in rows
                 if r not in files]
    fail_if(problems)
    log('%d scenarios, each with a row' % len(files))


# ------------------------------------------------------------- HTTP attacks --

def raw_exchange(port, payload, wait=HTTP_REPLY_WAIT_S, settle=1.0):
    """Send payload (bytes) and read until the server closes or `wait` passes;
    once a response head has arrived, wait at most `settle` seconds more for
    its body or a close. Returns (reply bytes, closed, error text). A send
    the server cuts short (EPIPE/ECONNRESET) counts as closed."""
    s = socket.create_connection(('127.0.0.1', port), timeout=wait)
    reply, closed, err = b'', False, ''
    sender_err = []

    def send():
        try:
            s.sendall(payload)
        except OSError as e:
            sender_err.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed, err = True, 'reset'
                break
            if not data:
                closed = True
                break
            reply += data
            if b'\r\n\r\n' in reply:
                deadline = min(deadline, time.monotonic() + settle)
    finally:
        s.close()
    t.join(1.0)
    if sender_err and not closed:
        closed, err = True, str(sender_err[0])
    return reply, closed, err


def expect_4xx_or_close(port, payload, label, wait=HTTP_REPLY_WAIT_S, also=()):
    """A clean refusal: a 4xx answer (the connection may stay open), or no
    answer and a close, within `wait`. `also`: other status codes the RFCs
    prescribe for this input (501 for a method token the server does not
    implement, RFC 9110 section 9.1; 505 for an HTTP version it does not
    support, section 15.6.6)."""
    t0 = time.monotonic()
    reply, closed, err = raw_exchange(port, payload, wait)
    head = reply.split(b'\r\n', 1)[0].decode('latin-1', 'replace')
    ok = re.match(r'HTTP/1\.[01] 4\d\d ', head) or any(
        head.startswith('HTTP/1.1 %d ' % c) for c in also)
    if reply and not ok:
        raise CheckFailed('%s: answered "%s", want a 4xx or a close' % (label, head))
    if not reply and not closed:
        raise CheckFailed('%s: neither an answer nor a close within %.0f s' % (label, wait))
    log('%s: %s, closed after %.2f s%s' % (label, head or 'no reply',
                                          time.monotonic() - t0,
                                          ' (%s)' % err if err else ''))
    return head


class Scanner(threading.Thread):
    """A real client scanning while an attack runs."""

    def __init__(self, ctx, emu, cfg, tag, pages=2):
        super().__init__(daemon=True)
        self.ctx, self.emu, self.cfg, self.tag, self.pages = ctx, emu, cfg, tag, pages
        self.res, self.exc = None, None

    def run(self):
        try:
            self.res = scanimage(self.ctx, 'airscan', self.cfg, self.emu.escl_port,
                                 'adf', 'gray', 75, self.tag, batch_count=self.pages)
        except Exception as e:          # reported by verify()
            self.exc = e

    def verify(self, ref):
        self.join(SCAN_TIMEOUT_S + 5)
        if self.exc:
            raise self.exc
        if self.res is None:
            raise CheckFailed('the concurrent scan did not finish')
        p = check_outcome(self.res, Expect(self.pages), 'concurrent airscan scan', self.pages)
        p += compare_pages(self.res.files, ref, 'concurrent airscan scan', slack=True)
        fail_if(p, self.res)
        log('a concurrent airscan scan: %d page(s), pixel-equal to wiascan' % self.pages)


def attack_setup(ctx):
    ref, rc, err = native_pages(ctx, 'default.yaml', 'adf', 'gray', 75, 2)
    if rc != 0:
        raise CheckFailed('native reference: wiascan exit %d:\n%s' % (rc, err))
    emu = Scanemu(ctx, 'dut', 'default.yaml')
    cfg = sane_config(ctx, emu.escl_port, 'dut')
    return ref, emu, cfg


def warm_rss(ctx, emu, cfg, ref):
    """A first scan so the allocator holds a page's buffers; then VmRSS."""
    s = Scanner(ctx, emu, cfg, 'warmup')
    s.start()
    s.verify(ref)
    return emu.rss_kb()


def check_rss(emu, base_kb, label):
    now = emu.rss_kb()
    log('%s: VmRSS %d kB after, %d kB after the warm-up scan' % (label, now, base_kb))
    if now - base_kb > RSS_GROWTH_LIMIT_KB:
        raise CheckFailed('%s: scanemu VmRSS grew by %d kB (limit %d kB)'
                          % (label, now - base_kb, RSS_GROWTH_LIMIT_KB))


def http_request(method, path, body=b'', headers=(), host='127.0.0.1'):
    lines = ['%s %s HTTP/1.1' % (method, path), 'Host: %s' % host]
    lines += list(headers)
    if body or method == 'POST':
        lines.append('Content-Length: %d' % len(body))
    lines.append('Connection: close')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + body


@check('http.garbage', 90)
def http_garbage(ctx):
    ref, emu, cfg = attack_setup(ctx)
    base = warm_rss(ctx, emu, cfg, ref)
    s = Scanner(ctx, emu, cfg, 'during')
    s.start()
    payloads = {
        'binary noise': bytes((i * 197 + 13) % 256 for i in range(4096)) + b'\r\n\r\n',
        'not a request line': b'HELLO THERE\r\n\r\n',
        'HTTP/9.9': b'GET /eSCL/ScannerStatus HTTP/9.9\r\nHost: x\r\n\r\n',
        'bare LF and NUL': b'GET /eSCL/Scanner\x00Status HTTP/1.1\nHost: x\n\n',
        'negative Content-Length': b'POST /eSCL/ScanJobs HTTP/1.1\r\nHost: x\r\n'
                                   b'Content-Length: -5\r\n\r\nabc',
        'two Content-Lengths': b'POST /eSCL/ScanJobs HTTP/1.1\r\nHost: x\r\n'
                               b'Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc',
        'bad chunk size': b'POST /eSCL/ScanJobs HTTP/1.1\r\nHost: x\r\n'
                          b'Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    }
    also = {'not a request line': (501,), 'HTTP/9.9': (505,)}
    for label, p in payloads.items():
        expect_4xx_or_close(emu.escl_port, p, label, also=also.get(label, ()))
    s.verify(ref)
    check_rss(emu, base, 'garbage')
    emu.stop()


@check('http.huge_header', 90)
def http_huge_header(ctx):
    ref, emu, cfg = attack_setup(ctx)
    base = warm_rss(ctx, emu, cfg, ref)
    s = Scanner(ctx, emu, cfg, 'during')
    s.start()
    one_line = (b'GET /eSCL/ScannerStatus HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: '
                + b'a' * (1 << 20) + b'\r\n\r\n')
    many = (b'GET /eSCL/ScannerStatus HTTP/1.1\r\nHost: 127.0.0.1\r\n'
            + b''.join(b'X-H%d: %s\r\n' % (i, b'b' * 100) for i in range(10000)) + b'\r\n')
    long_uri = b'GET /eSCL/' + b'c' * (1 << 20) + b' HTTP/1.1\r\nHost: x\r\n\r\n'
    for label, p in (('1 MB header line', one_line), ('10000 header lines', many),
                     ('1 MB request target', long_uri)):
        expect_4xx_or_close(emu.escl_port, p, label)
    s.verify(ref)
    check_rss(emu, base, 'huge header')
    emu.stop()


@check('http.slowloris', 120)
def http_slowloris(ctx):
    ref, emu, cfg = attack_setup(ctx)
    n = 5
    socks = []
    for _ in range(n):
        c = socket.create_connection(('127.0.0.1', emu.escl_port), timeout=5)
        c.sendall(b'GET /eSCL/ScannerStatus HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
        socks.append(c)
    closed_at = [None] * n
    t0 = time.monotonic()
    s = Scanner(ctx, emu, cfg, 'during')
    s.start()
    while time.monotonic() - t0 < SLOWLORIS_BOUND_S and None in closed_at:
        for i, c in enumerate(socks):
            if closed_at[i] is not None:
                continue
            try:
                c.send(b'a')
                c.setblocking(False)
                try:
                    if c.recv(4096) == b'':
                        closed_at[i] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                finally:
                    c.setblocking(True)
            except OSError:
                closed_at[i] = time.monotonic() - t0
        time.sleep(0.1)
    for c in socks:
        c.close()
    s.verify(ref)
    if None in closed_at:
        raise CheckFailed('%d of %d slowloris connections (1 byte per 100 ms) still '
                          'open after %.0f s' % (closed_at.count(None), n, SLOWLORIS_BOUND_S))
    log('slowloris: all %d connections closed by the server, the last after %.1f s'
        % (n, max(closed_at)))
    emu.stop()


SETTINGS_HEAD = ('<?xml version="1.0"?>%s<scan:ScanSettings '
                 'xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm" '
                 'xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03">'
                 '<pwg:Version>2.0</pwg:Version><scan:ColorMode>RGB24</scan:ColorMode>'
                 '<pwg:InputSource>Feeder</pwg:InputSource>'
                 '<pwg:DocumentFormat>image/png</pwg:DocumentFormat>'
                 '<scan:YResolution>75</scan:YResolution>')


def billion_laughs():
    """ScanSettings whose XResolution is 10^9 "lol"s if entities are
    expanded, and not a number if they are not: refused either way."""
    ents = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = '&lol;' if i == 1 else '&lol%d;' % (i - 1)
        ents.append('<!ENTITY lol%d "%s">' % (i, prev * 10))
    doctype = '\n<!DOCTYPE scan:ScanSettings [\n%s\n]>\n' % '\n'.join(ents)
    return ((SETTINGS_HEAD % doctype) + '<scan:XResolution>&lol9;</scan:XResolution>'
            '</scan:ScanSettings>').encode()


def deep_nesting(depth=10000):
    """ScanSettings whose XResolution holds elements nested `depth` deep
    around the number: refused by a depth limit or as not a number."""
    return ((SETTINGS_HEAD % '') + '<scan:XResolution>' + '<a>' * depth + '75'
            + '</a>' * depth + '</scan:XResolution></scan:ScanSettings>').encode()


def xml_attack(ctx, body, label):
    ref, emu, cfg = attack_setup(ctx)
    base = warm_rss(ctx, emu, cfg, ref)
    for ctype in ('text/xml', 'application/x-www-form-urlencoded'):
        p = http_request('POST', '/eSCL/ScanJobs', body, ['Content-Type: ' + ctype])
        expect_4xx_or_close(emu.escl_port, p, '%s (%s)' % (label, ctype))
    check_rss(emu, base, label)
    s = Scanner(ctx, emu, cfg, 'after')
    s.start()
    s.verify(ref)
    emu.stop()


@check('http.xml_bomb', 90)
def http_xml_bomb(ctx):
    xml_attack(ctx, billion_laughs(), 'billion laughs')


@check('http.xml_deep', 90)
def http_xml_deep(ctx):
    xml_attack(ctx, deep_nesting(), '10000-deep nesting')


@check('http.huge_content_length', 90)
def http_huge_content_length(ctx):
    ref, emu, cfg = attack_setup(ctx)
    base = warm_rss(ctx, emu, cfg, ref)
    s = Scanner(ctx, emu, cfg, 'during')
    s.start()
    for cl in ('1000000000000', '18446744073709551617', '99999999999999999999999999'):
        p = (b'POST /eSCL/ScanJobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n'
             b'Content-Length: ' + cl.encode() + b'\r\n\r\n<scan:ScanSettings')
        expect_4xx_or_close(emu.escl_port, p, 'Content-Length: ' + cl)
    s.verify(ref)
    check_rss(emu, base, 'huge Content-Length')
    emu.stop()


def parse_response(raw):
    head, _, body = raw.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    m = re.match(r'HTTP/1\.[01] (\d{3})', lines[0]) if lines else None
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get('transfer-encoding', '').lower() == 'chunked':
        out, rest = b'', body
        while rest:
            size_line, _, rest = rest.partition(b'\r\n')
            size = int(size_line.split(b';')[0] or b'0', 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    elif 'content-length' in hdrs:
        body = body[:int(hdrs['content-length'])]
    return (int(m.group(1)) if m else None), hdrs, body


@check('http.unknown_paths', 60)
def http_unknown_paths(ctx):
    ref, emu, cfg = attack_setup(ctx)
    port = emu.escl_port
    for path in ('/eSCL/ScannerCapabilities', '/1-1/eSCL/ScannerCapabilities',
                 '/eSCL/ScannerStatus'):
        code, _, body = parse_response(raw_exchange(port, http_request('GET', path))[0])
        if code != 200 or b'<' not in body:
            raise CheckFailed('GET %s: %s, want 200 with XML' % (path, code))
    unknown = [('GET', '/'), ('GET', '/eSCL'), ('GET', '/eSCL/'), ('GET', '/eSCL/Nope'),
               ('GET', '/nope/eSCL/ScannerStatus'), ('GET', '/9-9/eSCL/ScannerCapabilities'),
               ('GET', '/eSCL/ScanJobs/00000000-0000-0000-0000-000000000000/NextDocument'),
               ('GET', '/eSCL/ScanJobs/../ScannerStatus/NextDocument'),
               ('GET', '/eSCL/ScannerStatus/../../etc/passwd'),
               ('DELETE', '/eSCL/ScanJobs/00000000-0000-0000-0000-000000000000'),
               ('GET', '/eSCL/ScanJobs/00000000-0000-0000-0000-000000000000/ScanImageInfo')]
    for method, path in unknown:
        code, hdrs, body = parse_response(raw_exchange(port, http_request(method, path))[0])
        if code != 404 or body:
            raise CheckFailed('%s %s: %s with %d body byte(s), want 404 with an empty body'
                              % (method, path, code, len(body)))
        log('%s %s: 404, empty body' % (method, path))
    s = Scanner(ctx, emu, cfg, 'after')
    s.start()
    s.verify(ref)
    emu.stop()


def open_idle(port, n):
    """n connections at once (non-blocking connects, one bounded wait); every
    other one sends half a request line. A listener may refuse or drop some
    (back-pressure is allowed); the count is logged."""
    import select
    socks = []
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(('127.0.0.1', port))
        socks.append(c)
    pending, deadline = list(socks), time.monotonic() + 5.0
    while pending and time.monotonic() < deadline:
        _, w, _ = select.select([], pending, [], max(0.0, deadline - time.monotonic()))
        pending = [c for c in pending if c not in w]
    up = [c for c in socks if c not in pending
          and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
    for i, c in enumerate(up):
        if i % 2:
            try:
                c.send(b'GET /eSCL/ScannerStatus HTTP/1.1\r\n')
            except OSError:
                pass
    log('%d of %d idle connections established, %d still connecting after 5 s'
        % (len(up), n, len(pending)))
    return socks


@check('http.idle_flood', 120)
def http_idle_flood(ctx):
    ref, emu, cfg = attack_setup(ctx)
    base = warm_rss(ctx, emu, cfg, ref)
    socks = open_idle(emu.escl_port, 200)
    code, _, _ = parse_response(raw_exchange(emu.escl_port, http_request(
        'GET', '/eSCL/ScannerCapabilities'))[0])
    if code != 200:
        raise CheckFailed('with 200 idle connections, ScannerCapabilities got %s' % code)
    s = Scanner(ctx, emu, cfg, 'during')
    s.start()
    s.verify(ref)
    check_rss(emu, base, 'with 200 idle connections')
    for c in socks:
        c.close()
    time.sleep(0.2)
    check_rss(emu, base, 'after the flood')
    if not emu.alive():
        raise CheckFailed('scanemu died during the flood')
    emu.stop()


# -------------------------------------------------------------------- main --

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('check', nargs='?')
    ap.add_argument('--list', action='store_true', help='print every check name')
    ap.add_argument('--scanemu')
    ap.add_argument('--wiascan')
    ap.add_argument('--root')
    ap.add_argument('--tmp')
    ap.add_argument('--keep', action='store_true', help='keep --tmp after a pass')
    args = ap.parse_args()
    if args.list:
        for name, (_, timeout) in CHECKS.items():
            print('%s %d' % (name, timeout))
        return 0
    if not args.check or args.check not in CHECKS:
        ap.error('unknown check %r (see --list)' % args.check)
    for opt in ('scanemu', 'wiascan', 'root', 'tmp'):
        if not getattr(args, opt):
            ap.error('--%s is required' % opt)
    if shutil.which('scanimage') is None:
        log('FAIL: scanimage not found (scripts/bootstrap.sh installs sane-utils)')
        return 1
    ctx = Ctx(args)
    shutil.rmtree(ctx.tmp, ignore_errors=True)
    os.makedirs(ctx.tmp)
    fn, _ = CHECKS[args.check]
    try:
        fn(ctx)
    except CheckFailed as e:
        log('FAIL %s\n%s' % (args.check, e))
        return 1
    except Exception:                   # a harness or environment error
        log('FAIL %s: unexpected error\n%s' % (args.check, traceback.format_exc()))
        return 1
    finally:
        for p in ctx.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    log('PASS %s' % args.check)
    if not args.keep:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

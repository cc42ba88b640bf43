#!/bin/sh
# The VM end-to-end test's old command line: the program is scripts/vm_e2e.py
# (Debian's /usr/bin/python3, standard library only); docs/vm-e2e.md.
#   scripts/vm-e2e.sh --build-dir DIR [--smoke] [--keep] [--mem MiB]
#                     [--timeout SECONDS] [--verbose]
exec /usr/bin/python3 "$(dirname "$0")/vm_e2e.py" "$@"

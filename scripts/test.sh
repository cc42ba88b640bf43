#!/usr/bin/env bash
# The README's test command: install what is needed, lint (scripts/lint.sh:
# clang-format, shellcheck, clang-tidy), then build and run the whole suite
# twice — a warning-free (-Werror) optimised build, then an
# AddressSanitizer + UndefinedBehaviorSanitizer build. Exits non-zero on any
# failure or sanitizer report; the last lines are CTest's own summary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

JOBS="${SCANEMU_JOBS:-$(nproc 2>/dev/null || echo 2)}"
PRESETS="${SCANEMU_TEST_PRESETS:-ci asan-ubsan}"

if [ "${SCANEMU_SKIP_BOOTSTRAP:-0}" != "1" ]; then
  bash "$ROOT/scripts/bootstrap.sh"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Lint before the builds, so a style slip fails in a minute, not after
# them. clang-tidy needs compile commands: the first preset is configured
# for it. SCANEMU_SKIP_LINT=1 skips it (not in CI).
if [ "${SCANEMU_SKIP_LINT:-0}" != "1" ]; then
  first_preset=${PRESETS%% *}
  echo "==> lint"
  cmake --preset "$first_preset" >/dev/null
  bash "$ROOT/scripts/lint.sh" "$ROOT/build/$first_preset"
fi

for preset in $PRESETS; do
  echo "==> [$preset] configure"
  cmake --preset "$preset" >/dev/null
  echo "==> [$preset] build"
  cmake --build --preset "$preset" -j "$JOBS"
  echo "==> [$preset] test"
  log="$ROOT/build/$preset/ctest.log"
  set +e
  ctest --test-dir "$ROOT/build/$preset" --output-on-failure -j "$JOBS" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  # A sanitizer report in a child process whose exit status a test did not
  # check still fails the run.
  if grep -Eq "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
    echo "test.sh: sanitizer report found in $log" >&2
    rc=1
  fi
  if [ "$rc" -ne 0 ]; then
    echo "test.sh: [$preset] failed" >&2
    # End with CTest's own summary of what failed.
    ctest --test-dir "$ROOT/build/$preset" --rerun-failed -j "$JOBS" 2>&1 | tail -n 30
    exit 1
  fi
  # Each Check suite's own summary line ("100%: Checks: N, Failures: 0, ..."),
  # then CTest's summary again so that it stays the last thing printed.
  echo "==> [$preset] Check suite summaries"
  awk '/^[0-9]+\/[0-9]+ Test: /{name=$3}
       /^[0-9]+%: Checks: /{printf "  %-22s %s\n", name, $0}' \
    "$ROOT/build/$preset/Testing/Temporary/LastTest.log"
  echo
  grep -E "tests passed, [0-9]+ tests failed|^Total Test time" "$log"
done

# The Debian package (build, lintian; docs/ci.md, "The Debian package"):
# not in the default run, which is at the suite's time budget; on with
# SCANEMU_PACKAGE=1 (SCANEMU_PACKAGE=install-test: also the chroot install).
case "${SCANEMU_PACKAGE:-0}" in
  0) ;;
  install-test) echo "==> package"; bash "$ROOT/scripts/package.sh" --install-test ;;
  *) echo "==> package"; bash "$ROOT/scripts/package.sh" ;;
esac

#!/usr/bin/env bash
# Lint, run by scripts/test.sh before the builds so a style slip fails fast:
#   - clang-format --dry-run -Werror on every C and C++ file (.clang-format);
#   - ShellCheck with --severity=warning on every shell script (errors and
#     warnings fail; style notes are not shown);
#   - clang-tidy on the modules' sources (.clang-tidy; every check it
#     enables is an error), given a configured build directory for
#     compile_commands.json.
# Usage: scripts/lint.sh [BUILD_DIR]   (without BUILD_DIR: no clang-tidy)
# SCANEMU_JOBS sets clang-tidy's parallelism (default: nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${1:-}"
JOBS="${SCANEMU_JOBS:-$(nproc 2>/dev/null || echo 2)}"
rc=0

# Tracked files and new ones not ignored, as a list with one name a line.
files() {
  git ls-files --cached --others --exclude-standard -- "$@" | sort -u |
    while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done
}

echo "==> lint: clang-format"
mapfile -t c_files < <(files '*.c' '*.h' '*.cpp')
if ! clang-format --dry-run -Werror "${c_files[@]}"; then
  echo "lint: clang-format: run clang-format -i on the files above" >&2
  rc=1
fi
echo "    ${#c_files[@]} files"

echo "==> lint: shellcheck"
mapfile -t sh_files < <(
  files | while IFS= read -r f; do
    case $f in
      *.sh) printf '%s\n' "$f" ;;
      *.*) ;;
      *) head -n 1 "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba|da)?sh( |$)' && printf '%s\n' "$f" ;;
    esac
  done
)
if ! shellcheck --severity=warning --external-sources "${sh_files[@]}"; then
  rc=1
fi
echo "    ${#sh_files[@]} files"

if [ -n "$BUILD" ]; then
  echo "==> lint: clang-tidy ($BUILD/compile_commands.json)"
  [ -f "$BUILD/compile_commands.json" ] ||
    { echo "lint: no $BUILD/compile_commands.json: configure first" >&2; exit 1; }
  mapfile -t src_files < <(files 'protocol/src/*.c' 'device-model/src/*.c' \
    'emulator/src/*.c' 'driver/src/*.c' 'wias/src/*.c')
  # run-clang-tidy exits non-zero when any file has a finding
  # (.clang-tidy: WarningsAsErrors '*').
  if ! run-clang-tidy -quiet -p "$BUILD" -j "$JOBS" "${src_files[@]/#/$ROOT/}" \
    >"$BUILD/clang-tidy.log" 2>&1; then
    grep -E "(warning|error):" "$BUILD/clang-tidy.log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
    echo "lint: clang-tidy found the above (full log: $BUILD/clang-tidy.log)" >&2
    rc=1
  fi
  echo "    ${#src_files[@]} files"
fi

if [ "$rc" -ne 0 ]; then
  echo "lint: failed" >&2
else
  echo "lint: ok"
fi
exit "$rc"

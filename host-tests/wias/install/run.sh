#!/usr/bin/env bash
# test_wias_install: install the wias component into a temporary prefix, then
# build and run a small consumer the way a driver author's build does: with
# pkg-config (C++ and C) and with find_package(scanemu COMPONENTS wias)
# (shared and static library). Also checks what libwias.so exports.
#
# run.sh BUILD_DIR CONSUMER_SRC WORK_DIR CXX CC CMAKE GENERATOR PKG_CONFIG VERSION [SANITIZE]
set -euo pipefail

build=$1 src=$2 work=$3 cxx=$4 cc=$5 cmake=$6 generator=$7 pkgconfig=$8 version=$9
sanitize=${10:-}
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$prefix" --component wias >"$work/install.log"

# The consumer is sanitized like the library it links (a sanitized
# libwias needs the sanitizer runtime in the program).
flags=(-Wall -Wextra -Werror)
if [ -n "$sanitize" ]; then
  flags+=(-fsanitize="$sanitize" -fno-omit-frame-pointer -fno-sanitize-recover=all)
fi
cxxflags=("${flags[@]}")
if [ -n "$sanitize" ]; then
  cxxflags+=(-fno-sanitize=vptr) # C-implemented COM objects carry no RTTI
fi

pc=$(find "$prefix" -name wias.pc -print -quit)
[ -n "$pc" ] || { echo "wias.pc not installed" >&2; exit 1; }
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
got=$("$pkgconfig" --modversion wias)
[ "$got" = "$version" ] || { echo "wias.pc version $got, want $version" >&2; exit 1; }
libdir=$("$pkgconfig" --variable=libdir wias)
read -r -a pc_flags <<<"$("$pkgconfig" --cflags --libs wias)"
echo "pkg-config --cflags --libs wias: ${pc_flags[*]}"

# Exports: the Windows names and the wias* extensions, nothing internal.
extra=$(nm -D --defined-only "$libdir/libwias.so" | awk '{print $3}' |
  grep -Ev '^(wias[A-Z].*|CoTaskMem.*|GUID_NULL|IID_.*|WiaImgFmt_.*|WiaAudFmt_.*)$' || true)
[ -z "$extra" ] || { echo "libwias.so exports unexpected symbols: $extra" >&2; exit 1; }
for sym in wiasWritePageBufToStream wiasWritePageBufToFile wiasWriteBufToFile WiaImgFmt_RAW; do
  nm -D --defined-only "$libdir/libwias.so" | grep -q " $sym\$" ||
    { echo "libwias.so does not export $sym" >&2; exit 1; }
done

echo "== pkg-config, C++"
"$cxx" -std=c++17 "${cxxflags[@]}" "$src/consumer.cpp" "${pc_flags[@]}" \
  -Wl,-rpath,"$libdir" -o "$work/consumer_pc_cxx"
"$work/consumer_pc_cxx"
echo "== pkg-config, C"
"$cc" -std=c11 "${flags[@]}" "$src/consumer.c" "${pc_flags[@]}" \
  -Wl,-rpath,"$libdir" -o "$work/consumer_pc_c"
"$work/consumer_pc_c"

echo "== find_package(scanemu COMPONENTS wias)"
"$cmake" -S "$src" -B "$work/cmake-build" -G "$generator" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DPKG_CONFIG_EXECUTABLE="$pkgconfig" -DSCANEMU_EXPECT_VERSION="$version" \
  -DCONSUMER_FLAGS="${cxxflags[*]}" >"$work/consumer-configure.log"
"$cmake" --build "$work/cmake-build" >"$work/consumer-build.log"
"$work/cmake-build/consumer_shared"
"$work/cmake-build/consumer_static"
echo "test_wias_install: ok"

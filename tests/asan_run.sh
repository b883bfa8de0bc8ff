#!/bin/sh
# Run the C backend tests with every generated module built with AddressSanitizer.
#
#   sh tests/asan_run.sh [extra pytest args]
#
# The interpreter itself is not instrumented, so libasan is preloaded; leak detection is off
# (CPython keeps memory alive on purpose); huge allocations return NULL (-> MemoryError).
# ASan halts with a report and a non-zero exit code on the first error.
set -eu
cd "$(dirname "$0")/.."
CC_BIN="${CC:-gcc}"
LIBASAN="$($CC_BIN -print-file-name=libasan.so)"
# libstdc++ right after libasan so ASan's __cxa_throw interceptor finds the real one (SciPy's
# C++ special functions throw internally)
LIBSTDCXX="$($CC_BIN -print-file-name=libstdc++.so)"
CACHE="$(mktemp -d)"
trap 'rm -rf "$CACHE"' EXIT
export EQTENSOR_CACHE_DIR="$CACHE"
export EQTENSOR_CFLAGS_EXTRA="-fsanitize=address -fno-omit-frame-pointer -g"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
LD_PRELOAD="$LIBASAN $LIBSTDCXX" python -m pytest -q -p no:cacheprovider \
    tests/test_c_backend.py tests/test_c_backend_safety.py "$@"

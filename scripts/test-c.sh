#!/usr/bin/env bash
# The C ABI test program, plain, under AddressSanitizer+UBSan, and under
# valgrind memcheck, each against a fresh mock. Expects `make c-tests examples`.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
. scripts/mock.sh
. scripts/summary.sh

# Each run gets a fresh mock, and a second one that holds every token answer 500 ms.
start_mocks() {
  start_mock --token-delay-ms 500
  SLOW_URL=$MOCK_URL
  start_mock
}

echo "== C ABI test (plain)"
start_mocks
checks=$("build/$PROFILE/test_abi" "$MOCK_URL" "$SLOW_URL" | tail -1)
echo "$checks"

echo "== C ABI test (AddressSanitizer + UBSan)"
start_mocks
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  "build/$PROFILE/test_abi_asan" "$MOCK_URL" "$SLOW_URL"

echo "== C ABI test (valgrind memcheck)"
start_mocks
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite "build/$PROFILE/test_abi" "$MOCK_URL" "$SLOW_URL"

echo "== C fork storm"
start_mock
"build/$PROFILE/test_fork" "$MOCK_URL"

echo "== C and C++ examples"
start_mock
for example in get_token get_token_cpp; do
  SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret \
    "build/$PROFILE/$example" | grep -q "Bearer mock_at_"
  echo "$example: ok"
done
if SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=wrong \
  "build/$PROFILE/get_token" 2>/dev/null; then
  echo "get_token should fail with a wrong secret" >&2
  exit 1
fi

echo "== the header alone, and a program linked against the build tree"
make -s header-check PROFILE="$PROFILE"
built_tree=$(mktemp -d)
cc -std=c11 -Wall -Werror -Iinclude examples/c/get_token.c -L "target/$PROFILE" -lsigma_auth \
  -Wl,-rpath,"$PWD/target/$PROFILE" -o "$built_tree/get_token"
SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret \
  "$built_tree/get_token" | grep -q "Bearer mock_at_"
rm -rf "$built_tree"
echo "linked with -L target/$PROFILE -lsigma_auth (README's From source): runs"

echo "== make install and pkg-config"
prefix=$(mktemp -d)
built=$(stat -c %Y "target/$PROFILE/libsigma_auth.a")
make -s install PROFILE="$PROFILE" PREFIX="$prefix" >/dev/null
[ "$(stat -c %Y "target/$PROFILE/libsigma_auth.a")" = "$built" ] || { echo "make install rebuilt the library" >&2; exit 1; }
readelf -d "$prefix/lib/libsigma_auth.so" | grep -q "SONAME.*libsigma_auth.so.0" || { echo "no SONAME" >&2; exit 1; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 -Wall -Werror examples/c/get_token.c $(pkg-config --cflags --libs sigma_auth) -o "$prefix/get_token"
cc -std=c11 -Wall -Werror examples/c/get_token.c $(pkg-config --cflags --libs sigma_auth-static) -o "$prefix/get_token_static"
unset PKG_CONFIG_PATH
if ldd "$prefix/get_token_static" | grep -q sigma_auth; then echo "sigma_auth-static linked the .so" >&2; exit 1; fi
for program in get_token get_token_static; do
  # No LD_LIBRARY_PATH: the rpath from the .pc file finds the library.
  SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret \
    "$prefix/$program" | grep -q "Bearer mock_at_"
done
rm -rf "$prefix"
echo "make install; pkg-config dynamic (no LD_LIBRARY_PATH) and static: ok"
summarize "C ABI tests: ${checks%%,*} checks, each plain, under ASan+UBSan and under valgrind; fork storm; C and C++ examples; make install"

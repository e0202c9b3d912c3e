#!/usr/bin/env bash
# The C ABI test program, plain, under AddressSanitizer+UBSan, and under
# valgrind memcheck, each against a fresh mock. Expects `make c-tests examples`.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
. scripts/mock.sh

# Each run gets a fresh mock, and a second one that holds every token answer 500 ms.
start_mocks() {
  start_mock --token-delay-ms 500
  SLOW_URL=$MOCK_URL
  start_mock
}

echo "== C ABI test (plain)"
start_mocks
"build/$PROFILE/test_abi" "$MOCK_URL" "$SLOW_URL"

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

echo "== pkg-config install"
prefix=$(mktemp -d)
make -s install PROFILE="$PROFILE" PREFIX="$prefix" >/dev/null
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -std=c11 -Wall -Werror examples/c/get_token.c \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs sigma_auth) -o "$prefix/get_token"
SIGMA_BASE_URL="$MOCK_URL" SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret \
  LD_LIBRARY_PATH="$prefix/lib" "$prefix/get_token" | grep -q "Bearer mock_at_"
rm -rf "$prefix"
echo "pkg-config (dynamic link): ok"

#!/usr/bin/env bash
# `make dist-check`: the release check. Each artifact of dist/ is installed in a
# fresh place outside the repository, with cargo and rustc removed from PATH
# (the sdist excepted: building from source is its point), and gets a token
# from sigma-mock and calls /v2/whoami with it. Any failing step fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -d dist/python ] || { echo "dist/ is missing: run make dist first" >&2; exit 1; }
cargo build -q --locked --release -p sigma-mock
tools=$root/build/dist-tools
work=$(mktemp -d /tmp/sigma-dist-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
step() { echo "== $*"; }
fail() { echo "dist-check FAILED: $*" >&2; exit 1; }

# PATH without any directory holding cargo or rustc.
nocargo=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -x "$d/cargo" ] || [ -x "$d/rustc" ] || nocargo="${nocargo:+$nocargo:}$d"
done
norust() { env PATH="$nocargo" "$@"; }
norust sh -c 'command -v cargo || command -v rustc' >/dev/null && fail "cargo is still on the trimmed PATH"

export PROFILE=release # the mock built above (scripts/mock.sh reads PROFILE when it starts one)
. scripts/mock.sh
start_mock
export SIGMA_BASE_URL=$MOCK_URL SIGMA_CLIENT_ID=demo-client SIGMA_CLIENT_SECRET=demo-secret
whoami() { curl -sf -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$MOCK_URL/v2/whoami"; }

step "python wheels: auditwheel, then install in a fresh venv (no Rust)"
for wheel in dist/python/*.whl; do
  report=$("$tools/venv/bin/auditwheel" show "$wheel")
  grep -q 'consistent with the following platform tag:' <<<"$report" && grep -q '"manylinux_2_17_' <<<"$report" ||
    fail "auditwheel does not accept $wheel as manylinux_2_17: $report"
  echo "$(basename "$wheel"): manylinux_2_17"
done
wheel=$(ls dist/python/*manylinux_2_17_x86_64*.whl)
norust python3 -m venv "$work/wheel"
norust "$work/wheel/bin/pip" install -q --no-index "$wheel"
(cd "$work" && norust "$work/wheel/bin/python" "$root/tests/dist/check_token.py" "$MOCK_URL")
unzip -p "$wheel" sigma_auth/libsigma_auth.so >"$work/lib.so"
objdump -T "$work/lib.so" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 | grep -qx 'GLIBC_2.1[0-7]\|GLIBC_2.[0-9]' ||
  fail "the wheel's library needs a glibc newer than 2.17"

step "python sdist: pip install sigma_auth-$version.tar.gz in a fresh venv (cargo builds the crate)"
python3 -m venv "$work/sdist"
# Optimised less than a release (no LTO): this checks that the sdist builds and works.
CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  "$work/sdist/bin/pip" install -q "dist/python/sigma_auth-$version.tar.gz"
(cd "$work" && "$work/sdist/bin/python" "$root/tests/dist/check_token.py" "$MOCK_URL")

step "go module through a file module proxy (no Rust)"
mkdir -p "$work/go"
# The Go example, importing the released module instead of the source tree's.
sed 's|github.com/sigma-auth/sigma-auth/bindings/go|github.com/sigma-auth/sigma-auth-go|' examples/go/main.go >"$work/go/main.go"
(
  cd "$work/go"
  export GOPROXY="file://$root/dist/goproxy,https://proxy.golang.org" GOFLAGS=-mod=mod
  export GONOSUMDB=github.com/sigma-auth/sigma-auth-go GONOSUMCHECK=1 GOPATH="$work/gopath" GOCACHE="$work/gocache"
  norust go mod init check >/dev/null 2>&1
  norust go get "github.com/sigma-auth/sigma-auth-go@v$version" >/dev/null
  norust go build -o check .
  output=$(norust ./check)
  echo "$output"
  grep -q "sigmaauth $version (library $version)" <<<"$output" || fail "the Go module's version is not the library's"
  grep -q "GET /v2/whoami: 200" <<<"$output" || fail "the Go program did not reach whoami"
  ldd ./check | grep -q sigma_auth && fail "the Go binary links a shared libsigma_auth" || true
  chmod -R u+w "$work/gopath"
)

for tarball in dist/sigma-auth-"$version"-*-linux-gnu.tar.gz; do
  arch=$(basename "$tarball" | sed "s/sigma-auth-$version-\(.*\)-linux-gnu.tar.gz/\1/")
  prefix="$work/c-$arch"
  mkdir -p "$prefix"
  tar -xzf "$tarball" -C "$prefix" --strip-components=1
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  readelf -d "$prefix/lib/libsigma_auth.so" | grep -q "SONAME.*libsigma_auth.so.0" || fail "$arch: no SONAME"
  if [ "$arch" = x86_64 ]; then
    step "C tarball ($arch): dynamic (no LD_LIBRARY_PATH) and static, and bin/sigma-token"
    norust cc -std=c11 -Wall -Werror tests/dist/check_token.c $(pkg-config --cflags --libs sigma_auth) -o "$work/dyn"
    norust cc -std=c11 -Wall -Werror tests/dist/check_token.c $(pkg-config --cflags --libs sigma_auth-static) \
      -o "$work/static"
    ldd "$work/static" | grep -q sigma_auth && fail "sigma_auth-static linked the shared library"
    for program in dyn static; do
      read -r got token < <(env -u LD_LIBRARY_PATH "$work/$program")
      [ "$got" = "$version" ] || fail "$program: library version $got, want $version"
      [ "$(whoami "$token")" = 200 ] || fail "$program: whoami refused the token"
      echo "$program: version $got, token and whoami ok"
    done
    token=$("$prefix/bin/sigma-token" --no-cache)
    [ "$(whoami "$token")" = 200 ] || fail "sigma-token: whoami refused the token"
    echo "bin/sigma-token: token and whoami ok"
  else
    step "C tarball ($arch): built with zig cc, run under qemu-user"
    if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu ]; then
      echo "qemu-user or libc6-arm64-cross is missing: $arch not run (only its symbols checked)"
    else
      "$tools/venv/bin/python-zig" cc -target aarch64-linux-gnu.2.17 -std=c11 -Wall -Werror \
        -I"$prefix/include" tests/dist/check_token.c -L"$prefix/lib" -lsigma_auth -Wl,-rpath,"$prefix/lib" \
        -o "$work/arm"
      read -r got token < <(qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/arm")
      [ "$(whoami "$token")" = 200 ] || fail "$arch: whoami refused the token"
      token=$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$prefix/bin/sigma-token" --no-cache)
      [ "$(whoami "$token")" = 200 ] || fail "$arch sigma-token: whoami refused the token"
      echo "$arch: library and sigma-token under qemu: token and whoami ok"
    fi
  fi
  objdump -T "$prefix/lib/libsigma_auth.so" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 |
    grep -qx 'GLIBC_2.1[0-7]\|GLIBC_2.[0-9]' || fail "$arch: the library needs a glibc newer than 2.17"
  unset PKG_CONFIG_PATH
done

step "node packages: npm install the tarballs in a fresh directory (no Rust), CommonJS and ES module"
mkdir -p "$work/node"
(
  cd "$work/node"
  norust npm init -y >/dev/null
  # The main package and this platform's prebuilt one, as a registry would
  # serve them: npm places it as sigma-auth's optional dependency (and skips the
  # other platforms'; installing one by hand is refused as EBADPLATFORM).
  norust npm install --no-audit --no-fund --loglevel=error "$root/dist/node/sigma-auth-$version.tgz" \
    "$root/dist/node/sigma-auth-linux-x64-gnu-$version.tgz"
  [ -f node_modules/sigma-auth-linux-x64-gnu/sigma-auth.linux-x64-gnu.node ] || fail "npm did not install the x64 package"
  cp "$root/examples/node/get_token.js" .
  output=$(norust node get_token.js)
  echo "$output"
  grep -q "GET /v2/whoami: 200" <<<"$output" || fail "the Node.js example did not reach whoami"
  norust node --input-type=module -e "
    import { Client } from 'sigma-auth';
    const client = Client.fromEnv();
    const token = await client.token();
    const response = await client.fetch(process.env.SIGMA_BASE_URL + '/v2/whoami');
    if (response.status !== 200) throw new Error('whoami: ' + response.status);
    console.log('ES module: token and whoami ok');
    client.close();"
)
for node in "$work"/node/node_modules/sigma-auth-linux-*/*.node; do
  objdump -T "$node" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 | grep -qx 'GLIBC_2.1[0-7]\|GLIBC_2.[0-9]' ||
    fail "$(basename "$node") needs a glibc newer than 2.17"
  echo "$(basename "$node"): glibc <= 2.17"
done
for tgz in "$root"/dist/node/sigma-auth-linux-arm64-gnu-*.tgz; do
  [ -f "$tgz" ] || continue
  tar -xzf "$tgz" -C "$work" package/sigma-auth.linux-arm64-gnu.node
  readelf -h "$work/package/sigma-auth.linux-arm64-gnu.node" | grep -q 'AArch64' || fail "the arm64 package is not aarch64"
  objdump -T "$work/package/sigma-auth.linux-arm64-gnu.node" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 |
    grep -qx 'GLIBC_2.1[0-7]\|GLIBC_2.[0-9]' || fail "the arm64 node module needs a glibc newer than 2.17"
  echo "sigma-auth.linux-arm64-gnu.node: aarch64, glibc <= 2.17 (no arm64 Node here to run it)"
done

step "debian package: contents, and sigma-token from it"
dpkg-deb --field "dist/sigma-auth_${version}_amd64.deb" Version | grep -qx "$version" || fail "deb version"
dpkg-deb -x "dist/sigma-auth_${version}_amd64.deb" "$work/deb"
for f in usr/include/sigma_auth.h usr/lib/libsigma_auth.a "usr/lib/libsigma_auth.so.$version" \
  usr/lib/pkgconfig/sigma_auth.pc usr/lib/pkgconfig/sigma_auth-static.pc usr/bin/sigma-token; do
  [ -e "$work/deb/$f" ] || fail "the .deb lacks $f"
done
[ "$(whoami "$("$work/deb/usr/bin/sigma-token" --no-cache)")" = 200 ] || fail "deb sigma-token"
echo "sigma-auth_${version}_amd64.deb: contents and sigma-token ok"
echo "dist-check: every artifact works without a Rust toolchain"

#!/usr/bin/env bash
# `make dist`: every artifact a user installs without a Rust toolchain, in dist/.
#
#   dist/python/  manylinux_2_17 wheels (x86_64, and aarch64 when its Rust target
#                 can be installed) and an sdist that carries the Rust crate
#   dist/go/      the Go module tree (github.com/sigma-auth/sigma-auth-go), with a
#                 prebuilt static library per platform under lib/GOOS-GOARCH/
#   dist/goproxy/ that module as a module proxy serves it (Go's own zip code)
#   dist/sigma-auth-VERSION-ARCH-linux-gnu.tar.gz  header, libraries, pkg-config
#                 files and sigma-token, for C and C++
#   dist/sigma-auth_VERSION_amd64.deb
#   dist/node/    npm tarballs: sigma-auth (JavaScript, types) and one prebuilt
#                 package per platform (sigma-auth-linux-x64-gnu, ...-arm64-gnu),
#                 its optional dependencies, as napi-rs packages are laid out
#
# Libraries are linked against glibc 2.17's symbols (cargo-zigbuild with zig from
# PyPI), so they load on the servers people run (RHEL/CentOS 7 and later).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
soabi=$(echo "$version" | awk -F. '{print ($1 == 0) ? $1 "." $2 : $1}')
syslibs=$(cat native-static-libs.txt)
go_module=github.com/sigma-auth/sigma-auth-go
tools=$root/build/dist-tools
rm -rf dist
mkdir -p dist/python dist/go "$tools"

echo "== tools: zig and auditwheel (PyPI), cargo-zigbuild, llvm-strip"
[ -x "$tools/venv/bin/python" ] || python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q ziglang auditwheel build
command -v cargo-zigbuild >/dev/null || cargo install -q --locked cargo-zigbuild
sysroot_bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/host: //p')/bin"
[ -x "$sysroot_bin/llvm-strip" ] || rustup component add llvm-tools
strip_tool=$sysroot_bin/llvm-strip
export CARGO_ZIGBUILD_ZIG_PATH="$tools/venv/bin/python-zig"

targets=(x86_64-unknown-linux-gnu)
platforms=()
if rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' ||
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
  targets+=(aarch64-unknown-linux-gnu)
else
  echo "the aarch64 Rust target cannot be installed here: x86_64 only"
fi

# One staging tree per architecture: what the C tarball holds.
for target in "${targets[@]}"; do
  arch=${target%%-*}
  goarch=$([ "$arch" = x86_64 ] && echo amd64 || echo arm64)
  echo "== build $target (glibc 2.17)"
  cargo zigbuild -q --release --locked -p sigma-auth -p sigma-token --target "$target.2.17" --target-dir target/dist
  built=target/dist/$target/release
  stage=build/dist/sigma-auth-$version-$arch-linux-gnu
  rm -rf "$stage"
  mkdir -p "$stage/include" "$stage/lib/pkgconfig" "$stage/bin"
  cp include/sigma_auth.h "$stage/include/"
  "$strip_tool" --strip-debug -o "$stage/lib/libsigma_auth.a" "$built/libsigma_auth.a"
  "$strip_tool" --strip-unneeded -o "$stage/lib/libsigma_auth.so.$version" "$built/libsigma_auth.so"
  ln -s "libsigma_auth.so.$version" "$stage/lib/libsigma_auth.so.$soabi"
  ln -s "libsigma_auth.so.$soabi" "$stage/lib/libsigma_auth.so"
  "$strip_tool" --strip-all -o "$stage/bin/sigma-token" "$built/sigma-token"
  for pc in sigma_auth sigma_auth-static; do
    sed -e "s|@VERSION@|$version|" -e "s|@SYSLIBS@|$syslibs|" "$pc.pc.in" >"$stage/lib/pkgconfig/$pc.pc"
  done
  cp README.md "$stage/"
  tar -C build/dist -czf "dist/sigma-auth-$version-$arch-linux-gnu.tar.gz" "sigma-auth-$version-$arch-linux-gnu"

  echo "== python wheel ($arch)"
  SIGMA_AUTH_PREBUILT="$root/$stage/lib/libsigma_auth.so.$version" \
    SIGMA_AUTH_WHEEL_PLATFORM="manylinux_2_17_$arch.manylinux2014_$arch" \
    "$tools/venv/bin/pip" wheel -q --no-deps -w dist/python ./bindings/python
  rm -rf bindings/python/build

  mkdir -p "dist/go/lib/linux-$goarch"
  cp "$stage/lib/libsigma_auth.a" "dist/go/lib/linux-$goarch/"

  echo "== node native module ($arch, @napi-rs/cli through cargo-zigbuild)"
  nodearch=$([ "$arch" = x86_64 ] && echo x64 || echo arm64)
  platform=linux-$nodearch-gnu
  npkg=build/dist/node/sigma-auth-$platform
  rm -rf "$npkg"
  mkdir -p "$npkg"
  [ -d bindings/node/node_modules/@napi-rs/cli ] || npm ci --prefix bindings/node --no-audit --no-fund --loglevel=error
  (cd bindings/node && PATH="$tools/venv/bin:$PATH" npx napi build --platform --release -x --target "$target.2.17" \
    --manifest-path Cargo.toml --no-js --target-dir "$root/target/dist" --output-dir "$root/$npkg" >/dev/null)
  "$strip_tool" --strip-unneeded "$npkg/sigma-auth.$platform.node"
  node scripts/node-package.js platform "$npkg" "$platform" "$nodearch" "$version"
  platforms+=("$platform")
done

echo "== python sdist"
"$tools/venv/bin/python" -m build -q --sdist -o dist/python bindings/python >/dev/null

echo "== go module $go_module"
cp bindings/go/*.go dist/go/
rm dist/go/*_test.go
cp include/sigma_auth.h dist/go/
cp bindings/go/go.sum dist/go/
sed "s|^module .*|module $go_module|" bindings/go/go.mod >dist/go/go.mod
cat >dist/go/cgo.go <<EOF
package sigmaauth

// Links the prebuilt static library this module ships for the platform
// (lib/GOOS-GOARCH/libsigma_auth.a, built against glibc 2.17), so binaries are
// self-contained and no Rust toolchain is needed; with -tags sigma_system,
// links an installed sigma-auth found through pkg-config instead.

/*
#cgo CFLAGS: -I\${SRCDIR}
#cgo !sigma_system,linux,amd64 LDFLAGS: \${SRCDIR}/lib/linux-amd64/libsigma_auth.a
#cgo !sigma_system,linux,arm64 LDFLAGS: \${SRCDIR}/lib/linux-arm64/libsigma_auth.a
#cgo !sigma_system,linux LDFLAGS: $syslibs
#cgo sigma_system pkg-config: sigma_auth
*/
import "C"
EOF
cat >dist/go/unsupported.go <<'EOF'
//go:build !sigma_system && !(linux && (amd64 || arm64))

package sigmaauth

// No library is shipped for this platform: build with -tags sigma_system
// against an installed sigma-auth (see the README's "From source" section).
var _ = sigmaauth_ships_no_library_for_this_platform__build_with_tags_sigma_system
EOF
for goarch in amd64 arm64; do
  [ -f "dist/go/lib/linux-$goarch/libsigma_auth.a" ] || sed -i "/linux-$goarch/d" dist/go/cgo.go
done
cat >dist/go/README.md <<EOF
# sigmaauth $version

Go bindings of [sigma-auth](https://example.invalid/sigma-auth): obtain, cache and
refresh Sigma Computing REST API tokens. Generated by \`make dist\` from the
sigma-auth repository (bindings/go); do not edit here.

    go get $go_module@v$version

Prebuilt for: $(ls dist/go/lib | tr '\n' ' ')(cgo and a C compiler are needed; Rust is not).
Elsewhere, install sigma-auth's C library and build with \`-tags sigma_system\`.
EOF
gofmt -l dist/go | grep . && { echo "dist/go is not gofmt-clean" >&2; exit 1; }
(cd tools/gomodzip && go run . -dir "$root/dist/go" -module "$go_module" -version "v$version" -out "$root/dist/goproxy")

echo "== node packages (dist/node)"
mkdir -p dist/node
main=build/dist/node/sigma-auth
rm -rf "$main"
mkdir -p "$main"
cp bindings/node/index.js bindings/node/index.mjs bindings/node/index.d.ts bindings/node/native.js "$main/"
node scripts/node-package.js main "$main" "$version" "${platforms[@]}"
for package in "$main" "${platforms[@]/#/build/dist/node/sigma-auth-}"; do
  npm pack -q --pack-destination dist/node "./$package" >/dev/null
done

echo "== debian package (amd64)"
deb=build/dist/deb
rm -rf "$deb"
stage=build/dist/sigma-auth-$version-x86_64-linux-gnu
mkdir -p "$deb/DEBIAN" "$deb/usr/lib" "$deb/usr/include" "$deb/usr/bin"
cp -a "$stage/lib/." "$deb/usr/lib/"
cp "$stage/include/sigma_auth.h" "$deb/usr/include/"
cp "$stage/bin/sigma-token" "$deb/usr/bin/"
cat >"$deb/DEBIAN/control" <<EOF
Package: sigma-auth
Version: $version
Architecture: amd64
Maintainer: sigma-auth maintainers <sigma-auth@example.invalid>
Depends: libc6 (>= 2.17)
Section: libs
Priority: optional
Description: Obtain, cache and refresh Sigma Computing REST API tokens
 The sigma-auth C library (libsigma_auth.so and .a, sigma_auth.h, pkg-config
 files sigma_auth and sigma_auth-static) and the sigma-token command.
EOF
printf '#!/bin/sh\nset -e\nldconfig\n' >"$deb/DEBIAN/postinst"
printf '#!/bin/sh\nset -e\nldconfig\n' >"$deb/DEBIAN/postrm"
chmod 755 "$deb/DEBIAN/postinst" "$deb/DEBIAN/postrm"
dpkg-deb --root-owner-group --build "$deb" "dist/sigma-auth_${version}_amd64.deb" >/dev/null

echo "== dist/"
(cd dist && find . -maxdepth 2 -type f \( -name '*.whl' -o -name '*.tar.gz' -o -name '*.deb' -o -name '*.tgz' \) -exec ls -la {} \;)
du -sh dist/go/lib/* | sed 's|^|go archive: |'

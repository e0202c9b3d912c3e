'use strict';
// Loads the native part for this platform: the .node file beside this one (a
// build from a checkout: `npm run build`), else the prebuilt package that npm
// installed as an optional dependency (sigma-auth-linux-x64-gnu, ...).

const { existsSync } = require('node:fs');
const { join } = require('node:path');

function platformName() {
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (process.platform !== 'linux' || !arch) return null;
  // glibc or musl: a glibc Node reports the C library it runs on.
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
  const glibc = report ? Boolean(report.header && report.header.glibcVersionRuntime) : true;
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
}

function load() {
  const name = platformName();
  if (!name) {
    throw new Error(
      `sigma-auth ships no native library for ${process.platform}-${process.arch} ` +
        '(prebuilt: linux-x64-gnu, linux-arm64-gnu); build it from a checkout with `npm run build` in bindings/node',
    );
  }
  const local = join(__dirname, `sigma-auth.${name}.node`);
  if (existsSync(local)) return require(local);
  try {
    return require(`sigma-auth-${name}`);
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `sigma-auth: the prebuilt package sigma-auth-${name} is not installed. It is an optional ` +
          'dependency of sigma-auth: install without --no-optional/--omit=optional, on the platform you run on',
      );
    }
    throw error;
  }
}

module.exports = load();

// `make dist`: writes the package.json (and README) of an npm package in a
// staging directory.
//   node scripts/node-package.js main DIR VERSION PLATFORM...
//     sigma-auth: bindings/node/package.json without what only a checkout
//     needs, with one optional dependency per prebuilt platform package
//   node scripts/node-package.js platform DIR PLATFORM CPU VERSION
//     sigma-auth-PLATFORM: the .node file for one platform, installed by npm
//     only where os, cpu and libc match
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const source = JSON.parse(fs.readFileSync(path.join(root, 'bindings/node/package.json'), 'utf8'));
const [kind, dir, ...args] = process.argv.slice(2);
const write = (name, text) => fs.writeFileSync(path.join(dir, name), text);
const common = {
  license: source.license,
  repository: { type: 'git', url: 'https://example.invalid/sigma-auth' },
  engines: source.engines,
};

if (kind === 'main') {
  const [version, ...platforms] = args;
  const { scripts, devDependencies, napi, ...published } = source;
  void scripts;
  void devDependencies;
  const pkg = {
    ...published,
    ...common,
    version,
    napi: { binaryName: napi.binaryName, packageName: napi.packageName, targets: napi.targets },
    optionalDependencies: Object.fromEntries(platforms.map((p) => [`sigma-auth-${p}`, version])),
  };
  write('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
  write(
    'README.md',
    `# sigma-auth ${version}\n\nObtain, cache and refresh Sigma Computing REST API tokens, and sign embed URLs,\n` +
      'from one Rust core, prebuilt (no Rust toolchain needed). See "Use it from Node.js" in\n' +
      "the project's README.\n\n    const { Client } = require('sigma-auth');\n" +
      '    const client = Client.fromEnv();\n    const token = await client.token();\n',
  );
} else if (kind === 'platform') {
  const [platform, cpu, version] = args;
  const file = `sigma-auth.${platform}.node`;
  const pkg = {
    name: `sigma-auth-${platform}`,
    version,
    description: `The prebuilt native part of sigma-auth for ${platform} (glibc >= 2.17).`,
    main: file,
    files: [file],
    os: ['linux'],
    cpu: [cpu],
    libc: ['glibc'],
    ...common,
  };
  write('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
  write('README.md', `# sigma-auth-${platform}\n\nThe native part of [sigma-auth](https://example.invalid/sigma-auth) for ${platform}; install \`sigma-auth\`.\n`);
} else {
  throw new Error(`unknown kind ${kind}`);
}

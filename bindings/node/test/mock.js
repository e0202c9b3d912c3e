'use strict';
// The project's mock Sigma server (tools/sigma-mock), one per test that needs
// one, on loopback: $SIGMA_MOCK_BIN, else target/debug/sigma-mock.

const { spawn } = require('node:child_process');
const { join } = require('node:path');
const readline = require('node:readline');

const BIN = process.env.SIGMA_MOCK_BIN || join(__dirname, '..', '..', '..', 'target', 'debug', 'sigma-mock');

async function startMock(args = []) {
  const child = spawn(BIN, ['--port', '0', '--exit-with-stdin', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sigma-mock exited with ${code}`)));
  });
  lines.close();
  const post = (path, body) =>
    fetch(url + path, { method: 'POST', body: body === undefined ? '' : JSON.stringify(body) }).then((r) => r.json());
  return {
    url,
    stats: () => fetch(`${url}/__mock/stats`).then((r) => r.json()),
    faults: (list) => post('/__mock/faults', list),
    expire: () => post('/__mock/expire'),
    stop() {
      child.stdin.end();
      child.kill();
    },
  };
}

const CLIENT = { clientId: 'demo-client', clientSecret: 'demo-secret' };

module.exports = { startMock, CLIENT, BIN };

#!/usr/bin/env node
// Builds the optional native addons (native/build/Release/tslvs_packet.node, and tslvs_relay.node
// for the proxy dataplane's native relay) with node-gyp from
// source: no downloaded binaries. Run by `npm install`/`npm ci` (the "install" script): a failed
// build prints what to do and exits 0, because only `--dataplane packet` needs the addon.
// `node native/build.mjs --strict` (npm run build:native) exits non-zero on failure instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes('--strict');

function fail(msg) {
  console.error(`tslvs: native addon not built: ${msg}`);
  console.error('tslvs: everything but --dataplane packet works without it; to build it later: ' +
    'install python3, make and a C compiler, then run `npm run build:native`');
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') fail(`the packet dataplane needs Linux (this is ${process.platform})`);
if (process.env.TSLVS_SKIP_NATIVE === '1') fail('TSLVS_SKIP_NATIVE=1 is set');

// node-gyp: the one npm passes to scripts, a local devDependency, or the copy bundled with npm.
function findNodeGyp() {
  const cands = [];
  if (process.env.npm_config_node_gyp) cands.push(process.env.npm_config_node_gyp);
  try { cands.push(createRequire(join(here, '..', 'package.json')).resolve('node-gyp/bin/node-gyp.js')); } catch { /* not installed */ }
  if (process.env.npm_execpath) cands.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = dirname(dirname(process.execPath));
  cands.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return cands.find((p) => existsSync(p));
}

const gyp = findNodeGyp();
if (!gyp) fail('node-gyp not found (it comes with npm; or `npm install --save-dev node-gyp`)');

// Build against the headers of the running Node when they are installed beside it (distribution
// packages), so node-gyp never tries to download them.
const args = [gyp, 'rebuild', '--release'];
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').filter((l) => /error|ERR!/i.test(l)).slice(0, 8);
  fail(`node-gyp exited with ${r.status ?? r.signal}\n${lines.join('\n')}`);
}
console.log('tslvs: native addons built: native/build/Release/tslvs_packet.node, tslvs_relay.node');

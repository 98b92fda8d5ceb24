// Guards the dependency arrows of STYLE.md §1: a pure core, dataplanes that know nothing of the
// daemon or the CLIs, CLIs that talk to the daemon only through the control protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(repo, 'src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface Import { from: string; spec: string; target: string | null }

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const spec = m[1] ?? m[2] ?? m[3];
    const target = spec.startsWith('.') ? relative(src, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))) : null;
    out.push({ from: relative(src, file), spec, target });
  }
  return out;
}

const all = tsFiles(src).flatMap(importsOf);
const top = (p: string) => p.split('/')[0];

test('src/core imports only src/core and nothing from node:*', () => {
  const bad = all.filter((i) => top(i.from) === 'core' && (i.target === null || top(i.target) !== 'core'));
  assert.deepEqual(bad, []);
});

test('pure modules outside core (health verdicts, VRRP node) import only core or themselves', () => {
  const pure = new Set(['health/verdict.ts', 'ha/vrrp/node.ts']);
  const bad = all.filter((i) => pure.has(i.from) && (i.target === null || !['core', 'health', 'ha'].includes(top(i.target)) || i.spec.startsWith('node:')));
  assert.deepEqual(bad, []);
});

test('dataplanes import core and their own folder only, never another dataplane or the daemon, control or cli', () => {
  const bad = all.filter((i) => {
    if (top(i.from) !== 'dataplane' || i.target === null) return false;
    const t = top(i.target);
    // src/errors.ts is the shared catalogue of TslvsError codes: a leaf that imports nothing.
    if (t === 'core' || i.target === 'errors.ts') return false;
    if (t !== 'dataplane') return true;
    const fromDp = i.from.split('/')[1];
    const toDp = i.target.split('/')[1];
    // dataplane/dataplane.ts (the interface) is shared; folders are private to their dataplane.
    return i.target !== 'dataplane/dataplane.ts' && fromDp !== toDp && i.from !== 'dataplane/factory.ts';
  });
  assert.deepEqual(bad, []);
});

test('the CLIs reach the daemon only through the control protocol and client', () => {
  const allowed = (t: string) => t.startsWith('cli/') || t === 'control/protocol.ts' || t.startsWith('core/addr') || t === 'config/ipvsadm-rules.ts' || t === 'errors.ts';
  const bad = all.filter((i) => top(i.from) === 'cli' && i.target !== null && !allowed(i.target) && !i.from.startsWith('cli/tslvs/'));
  assert.deepEqual(bad, []);
});

test('only the daemon wires dataplanes, health and control together', () => {
  const bad = all.filter((i) => i.target !== null && ['control', 'health', 'config', 'host'].includes(top(i.from)) && top(i.target) === 'daemon');
  assert.deepEqual(bad, []);
});

test('src/errors.ts, the error catalogue every layer may use, imports nothing', () => {
  assert.deepEqual(all.filter((i) => i.from === 'errors.ts'), []);
});

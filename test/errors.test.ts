// Keeps the catalogue of TSLVS_ERR_* codes (src/errors.ts), the codes src actually raises, and
// docs/errors.md in step, as fastify's test/internals/errors.test.js does (STYLE rule 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, formatError, TslvsError } from '../src/errors.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const CODE = /TSLVS_ERR_[A-Z0-9_]*[A-Z0-9]/g;

function usedInSrc(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const f of tsFiles(join(repo, 'src'))) {
    if (f === join(repo, 'src', 'errors.ts')) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(CODE)) {
      const files = used.get(m[0]) ?? [];
      files.push(f.slice(repo.length + 1));
      used.set(m[0], files);
    }
  }
  return used;
}

const docs = readFileSync(join(repo, 'docs', 'errors.md'), 'utf8');
const documented = [...docs.matchAll(/^### (TSLVS_ERR_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1]);

test('every TSLVS_ERR_* code used in src is documented in docs/errors.md', () => {
  const missing = [...usedInSrc().entries()].filter(([c]) => !documented.includes(c)).map(([c, f]) => `${c} (used in ${f[0]})`);
  assert.deepEqual(missing, []);
});

test('every code documented in docs/errors.md is still used somewhere in src', () => {
  const used = usedInSrc();
  assert.deepEqual(documented.filter((c) => !used.has(c)), []);
});

test('the catalogue in src/errors.ts holds exactly the documented codes, each documented once', () => {
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
  assert.equal(new Set(documented).size, documented.length);
});

test('every documented code says how to solve it', () => {
  const sections = docs.split(/^### /m).slice(1);
  const without = sections.filter((s) => !/\*\*How to solve:\*\*/.test(s)).map((s) => s.split('\n')[0]);
  assert.deepEqual(without, []);
});

test('a TslvsError prints as one line: message, fix, code', () => {
  const e = new TslvsError('TSLVS_ERR_STATE_DIR', 'Cannot create state directory "/x": permission denied (EACCES)',
    'choose a writable directory with --state-dir DIR', { cause: Object.assign(new Error('x'), { code: 'EACCES' }) });
  const line = formatError(e);
  assert.equal(line, 'tslvs: Cannot create state directory "/x": permission denied (EACCES); choose a writable directory with --state-dir DIR (TSLVS_ERR_STATE_DIR)');
  assert.ok(!line.includes('\n'));
  assert.equal(e.errno, 'EACCES');
});

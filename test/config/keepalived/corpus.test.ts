// The corpus verdict comparison: every file of test/fixtures/keepalived/{ok,bad} against what the
// real `keepalived -t` (Debian's 2.2.7) said about it, recorded by
// test/golden/keepalived/record-keepalived.sh. Same exit status, same set of messages (line and
// text; messages keepalived prints without a line are matched on text), each once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKeepalivedConfig } from '../../../src/config/keepalived/load.js';
import { systemHost } from '../../../src/config/keepalived/system.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixtures = join(repo, 'test/fixtures/keepalived');
const goldens = join(repo, 'test/golden/keepalived');
// The recording ran in a network namespace holding lo and eth0 only (record-keepalived.sh).
const host = { ...systemHost(), interfaces: () => ['lo', 'eth0'] };

interface Golden { name: string; file: string; exit: number; messages: string[] }

function readGolden(name: string): Golden {
  const lines = readFileSync(join(goldens, name), 'utf8').split('\n');
  const file = lines[0].split(' -f ')[1];
  const at = lines.findIndex((l) => l.startsWith('exit '));
  return { name, file, exit: Number(lines[at].slice(5)), messages: lines.slice(at + 1).filter((l) => l !== '') };
}

/** "(file: Line N) text" / "(Line N) text" / "text" → "file:N|text" or "*|text". */
function normalise(main: string, s: string): string {
  const m = /^\((?:(.*): )?Line (\d+)\) (.*)$/s.exec(s);
  return m ? `${m[1] ?? main}:${m[2]}|${m[3]}` : `*|${s}`;
}

const textOf = (k: string) => k.slice(k.indexOf('|') + 1);
const all = readdirSync(goldens).filter((f) => /^(ok|bad)-.*\.txt$/.test(f)).sort().map(readGolden);

test('the corpus holds at least 30 files, each with a golden recorded from keepalived -t', () => {
  const confs = ['ok', 'bad'].flatMap((d) => readdirSync(join(fixtures, d)).filter((f) => f.endsWith('.conf')).map((f) => `${d}/${f}`));
  assert.ok(confs.length >= 30, `only ${confs.length} files`);
  assert.deepEqual(confs.sort(), all.map((g) => g.file).sort());
});

test('every ok/ file is accepted by keepalived -t and every bad/ file is not', () => {
  for (const g of all) {
    if (g.file.startsWith('ok/')) assert.equal(g.exit, 0, g.name);
    else assert.notEqual(g.exit, 0, g.name);
  }
});

for (const g of all) {
  const verdictKnown = [0, 2, 4, 5, 6].includes(g.exit);
  test(`${g.file}: tslvs gives keepalived's verdict (exit ${g.exit}) and messages`, () => {
    const r = loadKeepalivedConfig(g.file, { cwd: fixtures, host, configId: 'tslvs-test' });
    const ka = new Set(g.messages.filter((m) => !['Segmentation fault', 'Terminated', 'Aborted'].includes(m)).map((m) => normalise(g.file, m)));
    const ts = new Set(r.diagnostics.filter((d) => !d.logOnly && d.kaText !== '').map((d) => `${d.file}:${d.line}|${d.kaText}`));
    const missing = [...ka].filter((k) => (k.startsWith('*|') ? ![...ts].some((t) => textOf(t) === textOf(k)) : !ts.has(k)));
    if (!verdictKnown) {
      // keepalived crashed (it segfaults on an HTTP_GET without url): tslvs must still refuse
      // the file and report at least what keepalived printed before it died.
      assert.notEqual(r.verdict, 0);
      assert.deepEqual(missing, []);
      return;
    }
    const extra = [...ts].filter((t) => !ka.has(t) && ![...ka].some((k) => k.startsWith('*|') && textOf(k) === textOf(t)));
    assert.equal(r.verdict, g.exit);
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
    assert.equal(r.ok, g.exit === 0);
  });
}

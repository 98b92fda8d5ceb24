// Differential test against the real keepalived, when it is installed (apt-get install keepalived;
// skipped otherwise): 300 seeded mutations of the corpus (a line removed, a line duplicated,
// a word replaced by a troublesome token, a brace dropped) must get the same exit status and the
// same messages from tslvs as from `keepalived -t`. Runs on this host, so both see its interfaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKeepalivedConfig } from '../../../src/config/keepalived/load.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const corpus = join(repo, 'test/fixtures/keepalived');
const haveKeepalived = spawnSync('sh', ['-c', 'command -v keepalived']).status === 0;
const TOKENS = ['{', '}', '0', '-1', '99999', 'abc', '1.5', 'x y', '"q', 'TCP_CHECK', 'weight', '192.0.2.300', 'ff', ''];

test('300 mutations of the corpus: tslvs and keepalived -t agree on verdict and messages', { skip: !haveKeepalived && 'keepalived is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tslvs-ka-diff-'));
  try {
    cpSync(join(corpus, 'ok', 'inc'), join(dir, 'inc'), { recursive: true });
    const files = ['ok', 'bad'].flatMap((d) => readdirSync(join(corpus, d)).filter((f) => f.endsWith('.conf')).map((f) => `${d}/${f}`));
    let seed = 20261126;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const disagreements: string[] = [];
    let compared = 0;
    for (let i = 0; i < 300; i++) {
      const f = files[rnd(files.length)];
      const lines = readFileSync(join(corpus, f), 'utf8').split('\n');
      const op = rnd(4);
      const li = rnd(lines.length);
      if (op === 0) lines.splice(li, 1);
      else if (op === 1) lines.splice(li, 0, lines[rnd(lines.length)]);
      else if (op === 2) { const w = lines[li].split(/(\s+)/); w[rnd(w.length)] = TOKENS[rnd(TOKENS.length)]; lines[li] = w.join(''); }
      else lines[li] = lines[li].replace(/[{}]/, '');
      writeFileSync(join(dir, 'm.conf'), lines.join('\n'));
      const ka = spawnSync('keepalived', ['-t', '-i', 'tslvs-test', '-f', 'm.conf'], { cwd: dir, encoding: 'utf8' });
      if (ka.status === null || ![0, 2, 4, 5, 6].includes(ka.status)) continue; // keepalived crashed or was killed: no verdict
      compared++;
      const norm = (s: string) => { const m = /^\((?:(.*): )?Line (\d+)\) (.*)$/s.exec(s); return m ? `${m[2]}|${m[3]}` : `*|${s}`; };
      const kaSet = new Set(ka.stderr.split('\n').filter(Boolean).map(norm));
      const r = loadKeepalivedConfig('m.conf', { cwd: dir, configId: 'tslvs-test' });
      const ts = new Set(r.diagnostics.filter((d) => !d.logOnly && d.kaText).map((d) => `${d.line}|${d.kaText}`));
      const text = (s: string) => s.slice(s.indexOf('|') + 1);
      const onlyKa = [...kaSet].filter((k) => (k.startsWith('*|') ? ![...ts].some((x) => text(x) === text(k)) : !ts.has(k)));
      const onlyTs = [...ts].filter((x) => !kaSet.has(x) && ![...kaSet].some((k) => k.startsWith('*|') && text(k) === text(x)));
      if (ka.status !== r.verdict || onlyKa.length || onlyTs.length) {
        disagreements.push(`${f} op${op} line ${li + 1}: keepalived ${ka.status} ${JSON.stringify(onlyKa)} tslvs ${r.verdict} ${JSON.stringify(onlyTs)}`);
      }
    }
    assert.ok(compared >= 250, `only ${compared} mutations had a keepalived verdict`);
    assert.deepEqual(disagreements, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// End to end: a real `tslvs run --dataplane none` daemon process and the real `tslvsadm`
// launcher (bin/tslvsadm.js) in a child process per command line, replaying every ipvsadm
// golden (test/golden/ipvsadm) and comparing stdout, stderr (tslvs's "hint:" lines aside) and
// exit status byte for byte. One daemon per golden file, files in parallel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { removeDir, startDaemonProcess, tempDir } from '../../helpers/daemon.js';
import { describe, GOLDEN_ENV, type GoldenCase, loadGoldens, normaliseNosort, REPO, withoutHints } from './goldens.js';

const TSLVSADM = join(REPO, 'bin', 'tslvsadm.js');

function tslvsadm(args: readonly string[], env: NodeJS.ProcessEnv, stdin: string | null): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [TSLVSADM, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    p.stdin.end(stdin ?? '');
  });
}

async function replayFile(cases: GoldenCase[]): Promise<string[]> {
  const dir = tempDir('tslvsadm-e2e');
  const socket = join(dir, 'tslvs.sock');
  const daemon = await startDaemonProcess({ socket, stateDir: join(dir, 'state') });
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...GOLDEN_ENV, TSLVS_SOCKET: socket };
  const mismatches: string[] = [];
  try {
    for (const c of cases) {
      for (const reset of [['-C'], ['--set', '900', '120', '300']]) {
        const r = await tslvsadm(reset, base, null);
        assert.equal(r.code, 0, `reset ${reset.join(' ')}: ${r.stderr}${daemon.log()}`);
      }
      for (const s of c.steps) {
        const got = await tslvsadm(s.argv, { ...base, ...s.env }, s.stdin);
        try {
          assert.deepEqual(
            { stdout: normaliseNosort(s.argv, got.stdout), stderr: withoutHints(got.stderr), code: got.code },
            { stdout: normaliseNosort(s.argv, s.stdout), stderr: s.stderr, code: s.code },
          );
        } catch (e) {
          mismatches.push(`${describe(c, s)}\n${(e as Error).message}`);
        }
      }
    }
  } finally {
    await daemon.kill();
    removeDir(dir);
  }
  return mismatches;
}

test('tslvsadm against a real daemon prints what ipvsadm printed, for every golden command line', { timeout: 600_000 }, async () => {
  const byFile = new Map<string, GoldenCase[]>();
  for (const c of loadGoldens()) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
  const results = await Promise.all([...byFile.values()].map(replayFile));
  assert.deepEqual(results.flat(), []);
});

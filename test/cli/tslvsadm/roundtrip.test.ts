// -S/-R interoperate with the real ipvsadm (record-roundtrip.sh ran both directions in the
// oracle, see roundtrip.txt). Here, the table the real ipvsadm-save wrote is restored into tslvs
// and must save and list exactly as the real ipvsadm did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from '../../../src/control/protocol.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { NoneDataplane } from '../../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../../src/daemon/director.js';
import { handleRequest } from '../../../src/daemon/requests.js';
import { run } from '../../../src/cli/tslvsadm/main.js';
import { GOLDEN_DIR, GOLDEN_ENV } from './goldens.js';

const golden = (name: string) => readFileSync(join(GOLDEN_DIR, name), 'utf8');

function adm() {
  const director = new Director({ ipvs: new Ipvs({ random: () => 1 }), dataplane: new NoneDataplane(), store: null });
  const ctx = { director, reload: async () => '', shutdown: () => undefined, facts: () => ({}) };
  const request = async (req: Request) => JSON.parse(JSON.stringify(await handleRequest(ctx, JSON.parse(JSON.stringify(req))))) as Response;
  return async (args: string[], stdin = '') => {
    let stdout = '';
    let stderr = '';
    const code = await run(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, readStdin: async () => stdin, request, env: { ...GOLDEN_ENV, TSLVSADM_HOSTS_FILE: join(GOLDEN_DIR, 'roundtrip-etc-hosts') } });
    return { stdout, stderr, code };
  };
}

test('the oracle run found both directions of -S/-R identical between ipvsadm and tslvsadm', () => {
  const text = golden('roundtrip.txt');
  const verdicts = text.split('\n').filter((l) => / vs /.test(l));
  assert.ok(verdicts.length >= 9);
  for (const v of verdicts) assert.match(v, /: identical$/);
  assert.doesNotMatch(text, /exit [1-9]/);
});

test('a file written by the real ipvsadm-save -n restores into tslvs and saves and lists unchanged', async () => {
  const t = adm();
  const saved = golden('roundtrip-ipvsadm-save-n.txt');
  assert.deepEqual(await t(['-R'], saved), { stdout: '', stderr: '', code: 0 });
  assert.equal((await t(['-S', '-n'])).stdout, saved);
  assert.equal((await t(['-L', '-n'])).stdout, golden('roundtrip-ipvsadm-list-n.txt'));
});

test('a file written by the real ipvsadm-save (host and port names) restores into tslvs unchanged', async () => {
  const t = adm();
  assert.deepEqual(await t(['-R'], golden('roundtrip-ipvsadm-save.txt')), { stdout: '', stderr: '', code: 0 });
  assert.equal((await t(['-S', '-n'])).stdout, golden('roundtrip-ipvsadm-save-n.txt'));
  assert.equal((await t(['-S'])).stdout, golden('roundtrip-ipvsadm-save.txt'));
});

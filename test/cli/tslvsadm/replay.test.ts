// Replays every ipvsadm golden (test/golden/ipvsadm, recorded from the real ipvsadm 1.31 and
// kernel 6.1) through tslvsadm's run() in-process, against a real Director with the none
// dataplane behind the daemon's own request handler: stdout, stderr (tslvs's extra "hint:"
// lines aside) and exit status must be ipvsadm's, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from '../../../src/control/protocol.js';
import { Ipvs } from '../../../src/core/ipvs.js';
import { NoneDataplane } from '../../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../../src/daemon/director.js';
import { handleRequest } from '../../../src/daemon/requests.js';
import { run } from '../../../src/cli/tslvsadm/main.js';
import { describe, GOLDEN_ENV, loadGoldens, normaliseNosort, withoutHints } from './goldens.js';

function inProcessDaemon(): (req: Request) => Promise<Response> {
  const director = new Director({ ipvs: new Ipvs({ random: () => 0x12345678 }), dataplane: new NoneDataplane(), store: null });
  const ctx = { director, reload: async () => 'nothing to reload', shutdown: () => undefined, facts: () => ({}) };
  return async (req) => JSON.parse(JSON.stringify(await handleRequest(ctx, JSON.parse(JSON.stringify(req))))) as Response;
}

const goldens = loadGoldens();

test('the goldens hold every recorded command line', () => {
  assert.ok(goldens.length >= 35);
  assert.ok(goldens.every((c) => c.steps.length > 0));
  assert.ok(goldens.reduce((n, c) => n + c.steps.length, 0) >= 700);
});

for (const c of goldens) {
  test(`tslvsadm prints what ipvsadm printed: ${c.file} ${c.name}`, async () => {
    const request = inProcessDaemon();
    const mismatches: string[] = [];
    for (const s of c.steps) {
      let stdout = '';
      let stderr = '';
      const code = await run(s.argv, {
        stdout: (t) => { stdout += t; },
        stderr: (t) => { stderr += t; },
        readStdin: async () => s.stdin ?? '',
        request,
        env: { ...GOLDEN_ENV, ...s.env },
      });
      const what = describe(c, s);
      const got = { stdout: normaliseNosort(s.argv, stdout), stderr: withoutHints(stderr), code };
      const want = { stdout: normaliseNosort(s.argv, s.stdout), stderr: s.stderr, code: s.code };
      try {
        assert.deepEqual(got, want);
      } catch (e) {
        mismatches.push(`${what}\n${(e as Error).message}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });
}

// MISC_CHECK runs real scripts: exit statuses pass through, a timeout kills the process group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMiscProbe } from '../../src/health/misc-check.js';
import type { MiscCheck } from '../../src/config/keepalived/types.js';
import { checkerOf, tempDir } from './servers.js';

const run = (c: MiscCheck) => createMiscProbe(c).run({ url: 0, signal: new AbortController().signal });

function script(dir: string, name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

test('MISC_CHECK passes the exit status through; arguments are split shell-style', async () => {
  const t = tempDir('tslvs-misc-');
  try {
    const p = script(t.dir, 'check.sh', 'echo "$@" > "$(dirname "$0")/args"; exit "$1"');
    for (const code of [0, 1, 7]) {
      const c = checkerOf(` MISC_CHECK { misc_path "${p} ${code} 'a b'" }`, 80) as MiscCheck;
      assert.deepEqual(c.script.argv, [p, String(code), 'a b']);
      const r = await run(c);
      assert.deepEqual([r.ok, r.exitStatus], [code === 0, code]);
    }
  } finally {
    t.remove();
  }
});

test('MISC_CHECK kills the script\'s process group at misc_timeout and reports a timeout', async () => {
  const t = tempDir('tslvs-misc-');
  try {
    const marker = join(t.dir, 'child-survived');
    // The script leaves a grandchild that would write the marker; killing the group stops it too.
    const p = script(t.dir, 'slow.sh', `(sleep 1.5; touch ${marker}) & sleep 30`);
    const c = checkerOf(` MISC_CHECK { misc_path ${p}\n misc_timeout 1 }`, 80) as MiscCheck;
    const r = await run(c);
    assert.deepEqual([r.ok, r.exitStatus, r.detail], [false, null, 'timed out']);
    await new Promise((res) => setTimeout(res, 1200));
    assert.equal(existsSync(marker), false);
  } finally {
    t.remove();
  }
});

test('misc_timeout defaults to the virtual server\'s delay_loop', () => {
  const c = checkerOf(' MISC_CHECK { misc_path /bin/true\n delay_loop 2 }', 80, ' delay_loop 9') as MiscCheck;
  assert.deepEqual([c.timeoutMs, c.delayLoopMs, c.retry], [9000, 2000, 0]);
});

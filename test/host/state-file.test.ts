import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, removeStateFile, writeStateFile } from '../../src/host/state-file.js';
import { TslvsError } from '../../src/errors.js';

test('state files are replaced whole, read back, and a damaged one is reported, never dropped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tslvs-statefile-'));
  try {
    const p = join(dir, 'sub', 'realserver.json');
    assert.equal(await readStateFile(p, 'tslvs-realserver'), null);
    await writeStateFile(p, { format: 'tslvs-realserver', n: 1 });
    await writeStateFile(p, { format: 'tslvs-realserver', n: 2 });
    assert.deepEqual(await readStateFile(p, 'tslvs-realserver'), { format: 'tslvs-realserver', n: 2 });
    assert.deepEqual(await readdir(join(dir, 'sub')), ['realserver.json'], 'no temporary file left');
    await assert.rejects(readStateFile(p, 'tslvs-director'), (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_HOST_STATE');
    await writeFile(p, '{"format": "tslvs-realserver", "chan');
    await assert.rejects(readStateFile(p, 'tslvs-realserver'), (e: unknown) =>
      e instanceof TslvsError && e.code === 'TSLVS_ERR_HOST_STATE' && /is not a tslvs-realserver file \(damaged\?\)/.test(e.message) && /undo its changes by hand/.test(e.hint));
    assert.equal(await readFile(p, 'utf8'), '{"format": "tslvs-realserver", "chan', 'kept as it was');
    await removeStateFile(p);
    await removeStateFile(p);
    assert.deepEqual(await readdir(join(dir, 'sub')), []);
    await writeFile(join(dir, 'a-file'), '');
    await assert.rejects(writeStateFile(join(dir, 'a-file', 'x.json'), { format: 'x' }),
      (e: unknown) => e instanceof TslvsError && e.code === 'TSLVS_ERR_HOST_STATE' && /--state-dir/.test(e.hint));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

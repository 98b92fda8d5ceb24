import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ipvs } from '../../src/core/ipvs.js';
import type { DataplaneOptions } from '../../src/dataplane/dataplane.js';
import { createDataplane } from '../../src/dataplane/factory.js';
import { NoneDataplane } from '../../src/dataplane/none/none-dataplane.js';
import { formatError, TslvsError } from '../../src/errors.js';

const opts: DataplaneOptions = { ipvs: new Ipvs({ random: () => 1 }), now: () => 0, settings: {} };

test('none is built in and loads nothing', async () => {
  const dp = await createDataplane('none', opts, {});
  assert.ok(dp instanceof NoneDataplane);
  assert.equal(dp.kind, 'none');
});

test('a dataplane whose module is missing fails with one line naming it and the way out', async () => {
  await assert.rejects(createDataplane('packet', opts, { packet: './nosuch/index.js' }), (e: unknown) => {
    assert.ok(e instanceof TslvsError);
    assert.equal(e.code, 'TSLVS_ERR_DATAPLANE_UNAVAILABLE');
    assert.match(e.message, /^Dataplane "packet" is not part of this build \(no module ".*\/dataplane\/nosuch\/index\.js"\)$/);
    assert.match(e.hint, /--dataplane/);
    assert.ok(!formatError(e).includes('\n'));
    return true;
  });
});

test('a module without createDataplane, or an unknown kind, is refused the same way', async () => {
  await assert.rejects(createDataplane('proxy', opts, { proxy: '../errors.js' }), (e: unknown) =>
    e instanceof TslvsError && e.code === 'TSLVS_ERR_DATAPLANE_UNAVAILABLE' && /does not export createDataplane/.test(e.message));
  await assert.rejects(createDataplane('kernel', opts, {}), (e: unknown) =>
    e instanceof TslvsError && e.code === 'TSLVS_ERR_DATAPLANE_UNAVAILABLE' && e.message === 'Unknown dataplane "kernel"');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyDiff } from '../../../src/core/diff.js';
import { NoneDataplane } from '../../../src/dataplane/none/none-dataplane.js';

test('the none dataplane accepts every diff, forwards nothing, and refuses work after close', async () => {
  const dp = new NoneDataplane();
  await dp.apply(emptyDiff());
  await dp.apply({ ...emptyDiff(), timeoutsChanged: true });
  assert.equal(dp.applied, 2);
  assert.deepEqual(dp.stats(), { activeFlows: 0, drops: {} });
  await dp.close();
  await assert.rejects(dp.apply(emptyDiff()));
});

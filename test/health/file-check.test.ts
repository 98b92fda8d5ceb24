// FILE_CHECK reads the tracked file as keepalived does (strtol base 0, missing file = 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrackFileValue, readTrackFile } from '../../src/health/file-check.js';
import { tempDir } from './servers.js';

test('values are read with strtol(base 0): decimal, 0x hex, leading-zero octal, sign, garbage is 0', () => {
  assert.deepEqual(['42\n', '-7', '0x1f', '010', '08', ' +3 trailing', 'abc', ''].map(parseTrackFileValue), [42, -7, 31, 8, 0, 3, 0, 0]);
  assert.equal(parseTrackFileValue('99999999999'), null);
});

test('a missing file reads as 0, an existing one as its number', () => {
  const t = tempDir('tslvs-file-');
  try {
    const p = join(t.dir, 'v');
    assert.equal(readTrackFile(p), 0);
    writeFileSync(p, '12\n');
    assert.equal(readTrackFile(p), 12);
  } finally {
    t.remove();
  }
});

// How -R input splits into command lines (ipvsadm's config_stream_read); the effect of each
// quirk on a real restore is also in the goldens (restore.txt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitRestoreInput } from '../../../src/cli/tslvsadm/restore.js';

test('lines split on space, tab and CR; "ipvsadm" tokens are dropped; "#" is an ordinary token', () => {
  assert.deepEqual(splitRestoreInput('ipvsadm -A -t 1.2.3.4:80\n\t-a  -t\r1.2.3.4:80 # x\r\n'), [
    ['-A', '-t', '1.2.3.4:80'],
    ['-a', '-t', '1.2.3.4:80', '#', 'x'],
  ]);
});

test('empty and blank lines give empty command lines, which restore skips', () => {
  assert.deepEqual(splitRestoreInput('\n  \nipvsadm\n-C\n'), [[], [], [], ['-C']]);
});

test('a last line without newline counts, unless two or more blanks follow its last token', () => {
  assert.deepEqual(splitRestoreInput('-C\n-A -t 1.2.3.4:80'), [['-C'], ['-A', '-t', '1.2.3.4:80']]);
  assert.deepEqual(splitRestoreInput('-C\n-A -t 1.2.3.4:80\t'), [['-C'], ['-A', '-t', '1.2.3.4:80']]);
  assert.deepEqual(splitRestoreInput('-C\n-A -t 1.2.3.4:80  '), [['-C']]);
  assert.deepEqual(splitRestoreInput('-C\n-A -t 1.2.3.4:80 \t'), [['-C']]);
  assert.deepEqual(splitRestoreInput('-C\n   '), [['-C']]);
  assert.deepEqual(splitRestoreInput(''), []);
});

test('tokens longer than 4096 characters are cut into pieces, as fscanf("%4096[...]") reads them', () => {
  const long = 'x'.repeat(4100);
  assert.deepEqual(splitRestoreInput(`-A ${long}\n`), [['-A', 'x'.repeat(4096), 'xxxx']]);
});

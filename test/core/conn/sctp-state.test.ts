import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IP_VS_SCTP_S_LAST, SCTP_CID_ABORT, SCTP_CID_COOKIE_ACK, SCTP_CID_COOKIE_ECHO, SCTP_CID_DATA, SCTP_CID_INIT,
  SCTP_CID_INIT_ACK, SCTP_CID_SHUTDOWN, SCTP_CID_SHUTDOWN_ACK, SCTP_CID_SHUTDOWN_COMPLETE, SCTP_DIR_INPUT,
  SCTP_DIR_INPUT_ONLY, SCTP_DIR_OUTPUT, SCTP_STATE_NAMES, SCTP_TIMEOUTS_S, sctpEffectiveChunk, sctpNextState,
} from '../../../src/core/conn/sctp-state.js';

const name = (s: number) => SCTP_STATE_NAMES[s];

function walk(steps: [dir: number, chunk: number][]): string[] {
  let st = 0;
  return steps.map(([d, c]) => name((st = sctpNextState(d, c, st))));
}

test('names and timeouts as spec §5.4', () => {
  assert.deepEqual(SCTP_STATE_NAMES.map((n, i) => `${n} ${SCTP_TIMEOUTS_S[i]}`), [
    'NONE 2', 'INIT1 4', 'INIT 61', 'C-SENT 61', 'C-REPLIED 61', 'C-WAIT 61', 'COOKIE 61', 'C-ECHOED 61',
    'ESTABLISHED 900', 'S-SENT 61', 'S-RECEIVED 61', 'S-ACK-SENT 61', 'REJECTED 4', 'CLOSED 61',
  ]);
  assert.equal(SCTP_STATE_NAMES.length, IP_VS_SCTP_S_LAST);
});

test('a NAT association: INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK, then SHUTDOWN handshake', () => {
  const I = SCTP_DIR_INPUT, O = SCTP_DIR_OUTPUT;
  assert.deepEqual(walk([
    [I, SCTP_CID_INIT], [O, SCTP_CID_INIT_ACK], [I, SCTP_CID_COOKIE_ECHO], [O, SCTP_CID_COOKIE_ACK],
    [I, SCTP_CID_DATA], [I, SCTP_CID_SHUTDOWN], [O, SCTP_CID_SHUTDOWN_ACK], [I, SCTP_CID_SHUTDOWN_COMPLETE],
  ]), ['INIT1', 'C-SENT', 'C-REPLIED', 'ESTABLISHED', 'ESTABLISHED', 'S-RECEIVED', 'S-ACK-SENT', 'CLOSED']);
});

test('input only (DR): COOKIE-ECHO establishes; a repeated INIT moves INIT1 to INIT', () => {
  const I = SCTP_DIR_INPUT_ONLY;
  assert.deepEqual(walk([[I, SCTP_CID_INIT], [I, SCTP_CID_INIT], [I, SCTP_CID_COOKIE_ECHO], [I, SCTP_CID_ABORT]]),
    ['INIT1', 'INIT', 'ESTABLISHED', 'CLOSED']);
});

test('unknown chunk types are DATA events; COOKIE-ECHO bundled before ABORT counts as ABORT', () => {
  assert.equal(sctpNextState(SCTP_DIR_INPUT, 0xc0, 0), sctpNextState(SCTP_DIR_INPUT, SCTP_CID_DATA, 0));
  assert.equal(sctpEffectiveChunk(SCTP_CID_COOKIE_ECHO, SCTP_CID_ABORT), SCTP_CID_ABORT);
  assert.equal(sctpEffectiveChunk(SCTP_CID_COOKIE_ACK, SCTP_CID_ABORT), SCTP_CID_ABORT);
  assert.equal(sctpEffectiveChunk(SCTP_CID_DATA, SCTP_CID_ABORT), SCTP_CID_DATA);
  assert.equal(sctpEffectiveChunk(SCTP_CID_COOKIE_ECHO, -1), SCTP_CID_COOKIE_ECHO);
});

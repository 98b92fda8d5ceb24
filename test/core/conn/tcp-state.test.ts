import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IP_VS_TCP_S_LAST, TCP_DIR_INPUT, TCP_DIR_INPUT_ONLY, TCP_DIR_OUTPUT, TCP_STATE_NAMES, TCP_STATES, TCP_STATES_DOS,
  TCP_TIMEOUTS_S, tcpNextState, tcpStateActive, tcpStateIdx,
} from '../../../src/core/conn/tcp-state.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/core/flow.js';

const S = ['NO', 'ES', 'SS', 'SR', 'FW', 'TW', 'CL', 'CW', 'LA', 'LI', 'SA'];
const DIRS: [string, number][] = [['INPUT', TCP_DIR_INPUT], ['OUTPUT', TCP_DIR_OUTPUT], ['INPUT_ONLY', TCP_DIR_INPUT_ONLY]];
const EVENTS: [string, number][] = [['syn', TCP_SYN], ['fin', TCP_FIN], ['ack', TCP_ACK], ['rst', TCP_RST]];

test('event priority is RST > SYN > FIN > ACK; a segment with none of them moves to CLOSE', () => {
  assert.equal(tcpStateIdx(TCP_RST | TCP_SYN | TCP_FIN | TCP_ACK), 3);
  assert.equal(tcpStateIdx(TCP_SYN | TCP_FIN | TCP_ACK), 0);
  assert.equal(tcpStateIdx(TCP_FIN | TCP_ACK), 1);
  assert.equal(tcpStateIdx(TCP_ACK | TCP_PSH), 2);
  assert.equal(tcpStateIdx(TCP_PSH), -1);
  for (let st = 0; st < IP_VS_TCP_S_LAST; st++) assert.equal(TCP_STATE_NAMES[tcpNextState(TCP_STATES, TCP_DIR_INPUT, TCP_PSH, st)], 'CLOSE');
});

test('names, default timeouts and active states as spec §5.3', () => {
  assert.deepEqual(TCP_STATE_NAMES, ['NONE', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'SYNACK']);
  assert.deepEqual(TCP_TIMEOUTS_S, [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120]);
  assert.deepEqual(S.filter((_, i) => tcpStateActive(i)), ['ES', 'SS', 'SR', 'SA']);
});

// The next-state table of spec §5.3 (secure_tcp off), rows dir/event, columns NO..SA.
const SPEC_TABLE = `
INPUT syn SR ES ES SR SR SR SR SR SR SR SR
INPUT fin CL CW SS TW TW TW CL CW LA LI TW
INPUT ack ES ES SS ES FW TW CL CW CL LI ES
INPUT rst CL CL CL SR CL CL CL CL LA LI SR
OUTPUT syn SS ES SS SR SS SS SS SS SS LI SR
OUTPUT fin TW FW SS TW FW TW CL TW LA LI TW
OUTPUT ack ES ES SS ES FW TW CL CW LA ES ES
OUTPUT rst CL CL SS CL CL TW CL CL CL CL CL
INPUT_ONLY syn SR ES ES SR SR SR SR SR SR SR SR
INPUT_ONLY fin CL FW SS TW FW TW CL CW LA LI TW
INPUT_ONLY ack ES ES SS ES FW TW CL CW CL LI ES
INPUT_ONLY rst CL CL CL SR CL CL CL CL LA LI CL`;

test('the normal table matches spec §5.3 cell by cell', () => {
  for (const line of SPEC_TABLE.trim().split('\n')) {
    const [dir, ev, ...cells] = line.split(' ');
    const off = DIRS.find(([n]) => n === dir)![1];
    const fl = EVENTS.find(([n]) => n === ev)![1];
    const got = S.map((_, st) => S[tcpNextState(TCP_STATES, off, fl, st)]);
    assert.deepEqual(got, cells, line);
  }
});

test('the secure_tcp table differs from the normal one exactly in the cells spec §5.3 lists', () => {
  const diffs: string[] = [];
  for (const [dir, off] of DIRS) {
    for (const [ev, fl] of EVENTS) {
      for (let st = 0; st < IP_VS_TCP_S_LAST; st++) {
        const a = tcpNextState(TCP_STATES, off, fl, st);
        const b = tcpNextState(TCP_STATES_DOS, off, fl, st);
        if (a !== b) diffs.push(`${dir} ${ev} ${S[st]}->${S[b]}`);
      }
    }
  }
  assert.deepEqual(diffs, [
    'INPUT syn SA->SA', 'INPUT fin SA->SA', 'INPUT ack SR->SR', 'INPUT ack SA->SA', 'INPUT rst SA->CL',
    'OUTPUT syn SR->SA', 'OUTPUT syn SA->SA',
    'INPUT_ONLY syn NO->SA', 'INPUT_ONLY syn FW->SA', 'INPUT_ONLY syn TW->SA', 'INPUT_ONLY syn CL->SA',
    'INPUT_ONLY syn CW->SA', 'INPUT_ONLY syn LA->SA', 'INPUT_ONLY syn LI->SA', 'INPUT_ONLY syn SA->SA',
  ]);
});

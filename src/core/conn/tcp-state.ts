/**
 * The TCP connection state machine of net/netfilter/ipvs/ip_vs_proto_tcp.c (6.1.192): states,
 * their names, default timeouts and "active" flags, and the two next-state tables (normal and
 * secure_tcp, tcp_states / tcp_states_dos) indexed by direction, event and current state.
 * Why three directions: an entry whose destination never sends through the director (DR, TUN,
 * local: IP_VS_CONN_F_NOOUTPUT) reads the INPUT_ONLY rows, so a client FIN alone ends in FIN_WAIT.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../flow.js';

export const IP_VS_TCP_S_NONE = 0;
export const IP_VS_TCP_S_ESTABLISHED = 1;
export const IP_VS_TCP_S_SYN_SENT = 2;
export const IP_VS_TCP_S_SYN_RECV = 3;
export const IP_VS_TCP_S_FIN_WAIT = 4;
export const IP_VS_TCP_S_TIME_WAIT = 5;
export const IP_VS_TCP_S_CLOSE = 6;
export const IP_VS_TCP_S_CLOSE_WAIT = 7;
export const IP_VS_TCP_S_LAST_ACK = 8;
export const IP_VS_TCP_S_LISTEN = 9;
export const IP_VS_TCP_S_SYNACK = 10;
export const IP_VS_TCP_S_LAST = 11;

/** Row offsets of the state tables (tcp_state_off): 4 events per direction. */
export const TCP_DIR_INPUT = 0;
export const TCP_DIR_OUTPUT = 4;
export const TCP_DIR_INPUT_ONLY = 8;

/** tcp_state_name_table. */
export const TCP_STATE_NAMES: readonly string[] = [
  'NONE', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT',
  'LAST_ACK', 'LISTEN', 'SYNACK',
];

export function tcpStateName(state: number): string {
  return state < IP_VS_TCP_S_LAST ? TCP_STATE_NAMES[state] : 'ERR!';
}

/** tcp_timeouts in seconds; ESTABLISHED and FIN_WAIT are replaced by `ipvsadm --set`. */
export const TCP_TIMEOUTS_S: readonly number[] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

/** tcp_state_active_table: states that count in ActiveConn. */
export const TCP_STATE_ACTIVE: readonly boolean[] = [
  false, true, true, true, false, false, false, false, false, false, true,
];

export function tcpStateActive(state: number): boolean {
  return state < IP_VS_TCP_S_LAST && TCP_STATE_ACTIVE[state];
}

const sNO = IP_VS_TCP_S_NONE, sES = IP_VS_TCP_S_ESTABLISHED, sSS = IP_VS_TCP_S_SYN_SENT;
const sSR = IP_VS_TCP_S_SYN_RECV, sFW = IP_VS_TCP_S_FIN_WAIT, sTW = IP_VS_TCP_S_TIME_WAIT;
const sCL = IP_VS_TCP_S_CLOSE, sCW = IP_VS_TCP_S_CLOSE_WAIT, sLA = IP_VS_TCP_S_LAST_ACK;
const sLI = IP_VS_TCP_S_LISTEN, sSA = IP_VS_TCP_S_SYNACK;

/** 12 rows (INPUT syn/fin/ack/rst, OUTPUT ..., INPUT_ONLY ...) × 11 current states, flattened. */
function flatten(rows: number[][]): Uint8Array {
  const t = new Uint8Array(12 * IP_VS_TCP_S_LAST);
  rows.forEach((r, i) => t.set(r, i * IP_VS_TCP_S_LAST));
  return t;
}

/** tcp_states: the table in use while secure_tcp is off. */
export const TCP_STATES = flatten([
  /*        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA */
  /* INPUT */
  /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
  /*fin*/ [sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW],
  /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
  /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR],
  /* OUTPUT */
  /*syn*/ [sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR],
  /*fin*/ [sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW],
  /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES],
  /*rst*/ [sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL],
  /* INPUT-ONLY */
  /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR],
  /*fin*/ [sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW],
  /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
  /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
]);

/** tcp_states_dos: the table in use while the secure_tcp defense is on. */
export const TCP_STATES_DOS = flatten([
  /*        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA */
  /* INPUT */
  /*syn*/ [sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSA],
  /*fin*/ [sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sSA],
  /*ack*/ [sES, sES, sSS, sSR, sFW, sTW, sCL, sCW, sCL, sLI, sSA],
  /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
  /* OUTPUT */
  /*syn*/ [sSS, sES, sSS, sSA, sSS, sSS, sSS, sSS, sSS, sLI, sSA],
  /*fin*/ [sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW],
  /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES],
  /*rst*/ [sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL],
  /* INPUT-ONLY */
  /*syn*/ [sSA, sES, sES, sSR, sSA, sSA, sSA, sSA, sSA, sSA, sSA],
  /*fin*/ [sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW],
  /*ack*/ [sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES],
  /*rst*/ [sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL],
]);

/** tcp_state_idx: the event of a segment, RST > SYN > FIN > ACK; -1 when none is set. */
export function tcpStateIdx(tcpFlags: number): number {
  if (tcpFlags & TCP_RST) return 3;
  if (tcpFlags & TCP_SYN) return 0;
  if (tcpFlags & TCP_FIN) return 1;
  if (tcpFlags & TCP_ACK) return 2;
  return -1;
}

/**
 * The state set_tcp_state moves to. `dirOff` is TCP_DIR_INPUT/OUTPUT/INPUT_ONLY, already
 * adjusted for NOOUTPUT; a segment without RST/SYN/FIN/ACK moves to CLOSE, as the kernel does.
 */
export function tcpNextState(table: Uint8Array, dirOff: number, tcpFlags: number, state: number): number {
  const idx = tcpStateIdx(tcpFlags);
  if (idx < 0) return IP_VS_TCP_S_CLOSE;
  return table[(dirOff + idx) * IP_VS_TCP_S_LAST + state];
}

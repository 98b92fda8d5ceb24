/**
 * The SCTP association state machine of net/netfilter/ipvs/ip_vs_proto_sctp.c (6.1.192):
 * chunk type → event, the next-state table per direction (INPUT, OUTPUT, INPUT_ONLY), names and
 * timeouts. Only ESTABLISHED counts as active.
 * The packet's "chunk type" is what set_sctp_state reads: the first chunk, except that a
 * COOKIE_ECHO or COOKIE_ACK followed by an ABORT counts as ABORT (sctpEffectiveChunk). For SCTP
 * the core reads it from Flow.tcpFlags (see ipvs.ts).
 */

export const SCTP_CID_DATA = 0;
export const SCTP_CID_INIT = 1;
export const SCTP_CID_INIT_ACK = 2;
export const SCTP_CID_SACK = 3;
export const SCTP_CID_HEARTBEAT = 4;
export const SCTP_CID_HEARTBEAT_ACK = 5;
export const SCTP_CID_ABORT = 6;
export const SCTP_CID_SHUTDOWN = 7;
export const SCTP_CID_SHUTDOWN_ACK = 8;
export const SCTP_CID_ERROR = 9;
export const SCTP_CID_COOKIE_ECHO = 10;
export const SCTP_CID_COOKIE_ACK = 11;
export const SCTP_CID_ECN_ECNE = 12;
export const SCTP_CID_ECN_CWR = 13;
export const SCTP_CID_SHUTDOWN_COMPLETE = 14;

export const IP_VS_SCTP_S_NONE = 0;
export const IP_VS_SCTP_S_INIT1 = 1;
export const IP_VS_SCTP_S_INIT = 2;
export const IP_VS_SCTP_S_COOKIE_SENT = 3;
export const IP_VS_SCTP_S_COOKIE_REPLIED = 4;
export const IP_VS_SCTP_S_COOKIE_WAIT = 5;
export const IP_VS_SCTP_S_COOKIE = 6;
export const IP_VS_SCTP_S_COOKIE_ECHOED = 7;
export const IP_VS_SCTP_S_ESTABLISHED = 8;
export const IP_VS_SCTP_S_SHUTDOWN_SENT = 9;
export const IP_VS_SCTP_S_SHUTDOWN_RECEIVED = 10;
export const IP_VS_SCTP_S_SHUTDOWN_ACK_SENT = 11;
export const IP_VS_SCTP_S_REJECTED = 12;
export const IP_VS_SCTP_S_CLOSED = 13;
export const IP_VS_SCTP_S_LAST = 14;

/** enum ipvs_sctp_event_t. */
const EV_DATA = 0, EV_INIT = 1, EV_INIT_ACK = 2, EV_COOKIE_ECHO = 3, EV_COOKIE_ACK = 4;
const EV_SHUTDOWN = 5, EV_SHUTDOWN_ACK = 6, EV_SHUTDOWN_COMPLETE = 7, EV_ERROR = 8, EV_ABORT = 9;
const EV_LAST = 10;

/** sctp_events: chunk types 0..14; any other type is a DATA event. */
const SCTP_EVENTS = Uint8Array.of(
  EV_DATA, EV_INIT, EV_INIT_ACK, EV_DATA, EV_DATA, EV_DATA, EV_ABORT, EV_SHUTDOWN,
  EV_SHUTDOWN_ACK, EV_ERROR, EV_COOKIE_ECHO, EV_COOKIE_ACK, EV_DATA, EV_DATA, EV_SHUTDOWN_COMPLETE,
);

export const SCTP_STATE_NAMES: readonly string[] = [
  'NONE', 'INIT1', 'INIT', 'C-SENT', 'C-REPLIED', 'C-WAIT', 'COOKIE', 'C-ECHOED', 'ESTABLISHED',
  'S-SENT', 'S-RECEIVED', 'S-ACK-SENT', 'REJECTED', 'CLOSED',
];

export function sctpStateName(state: number): string {
  return state < IP_VS_SCTP_S_LAST ? SCTP_STATE_NAMES[state] : 'ERR!';
}

/** IP_VS_SCTP_MAX_RTO = (60 + 1) * HZ. */
const MAX_RTO_S = 61;
/** sctp_timeouts in seconds. */
export const SCTP_TIMEOUTS_S: readonly number[] = [
  2, 4, MAX_RTO_S, MAX_RTO_S, MAX_RTO_S, MAX_RTO_S, MAX_RTO_S, MAX_RTO_S, 900,
  MAX_RTO_S, MAX_RTO_S, MAX_RTO_S, 4, MAX_RTO_S,
];

const sI1 = 1, sIN = 2, sCS = 3, sCR = 4, sCW = 5, sCO = 6, sCE = 7, sES = 8, sSS = 9;
const sSR = 10, sSA = 11, sRJ = 12, sCL = 13;

/** sctp_states[direction][event][state], flattened; direction 0 INPUT, 1 OUTPUT, 2 INPUT_ONLY. */
const SCTP_STATES = (() => {
  const rows: number[][] = [
    /* INPUT */
    /*        sNO, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL */
    /* d   */[sES, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* i   */[sI1, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sIN, sIN],
    /* i_a */[sCW, sCW, sCW, sCS, sCR, sCO, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* c_e */[sCR, sIN, sIN, sCR, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* c_a */[sES, sI1, sIN, sCS, sCR, sCW, sCO, sES, sES, sSS, sSR, sSA, sRJ, sCL],
    /* s   */[sSR, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sSR, sSS, sSR, sSA, sRJ, sCL],
    /* s_a */[sCL, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sES, sCL, sSR, sCL, sRJ, sCL],
    /* s_c */[sCL, sCL, sCL, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sCL, sRJ, sCL],
    /* err */[sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCL, sES, sSS, sSR, sSA, sRJ, sCL],
    /* ab  */[sCL, sCL, sCL, sCL, sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* OUTPUT */
    /* d   */[sES, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* i   */[sCW, sCW, sCW, sCW, sCW, sCW, sCW, sCW, sES, sCW, sCW, sCW, sCW, sCW],
    /* i_a */[sCS, sCS, sCS, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* c_e */[sCE, sCE, sCE, sCE, sCE, sCE, sCE, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* c_a */[sES, sES, sES, sES, sES, sES, sES, sES, sES, sSS, sSR, sSA, sRJ, sCL],
    /* s   */[sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSR, sSA, sRJ, sCL],
    /* s_a */[sSA, sSA, sSA, sSA, sSA, sCW, sCO, sCE, sES, sSA, sSA, sSA, sRJ, sCL],
    /* s_c */[sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* err */[sCL, sCL, sCL, sCL, sCL, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* ab  */[sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* INPUT-ONLY */
    /* d   */[sES, sI1, sIN, sCS, sCR, sES, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* i   */[sI1, sIN, sIN, sIN, sIN, sIN, sCO, sCE, sES, sSS, sSR, sSA, sIN, sIN],
    /* i_a */[sCE, sCE, sCE, sCE, sCE, sCE, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* c_e */[sES, sES, sES, sES, sES, sES, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* c_a */[sES, sI1, sIN, sES, sES, sCW, sES, sES, sES, sSS, sSR, sSA, sRJ, sCL],
    /* s   */[sSR, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sSR, sSS, sSR, sSA, sRJ, sCL],
    /* s_a */[sCL, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sCL, sCL, sSR, sCL, sRJ, sCL],
    /* s_c */[sCL, sCL, sCL, sCL, sCL, sCW, sCO, sCE, sES, sSS, sCL, sCL, sRJ, sCL],
    /* err */[sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL],
    /* ab  */[sCL, sCL, sCL, sCL, sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
  ];
  const t = new Uint8Array(3 * EV_LAST * IP_VS_SCTP_S_LAST);
  rows.forEach((r, i) => t.set(r, i * IP_VS_SCTP_S_LAST));
  return t;
})();

/** IP_VS_DIR_INPUT / OUTPUT / INPUT_ONLY. */
export const SCTP_DIR_INPUT = 0;
export const SCTP_DIR_OUTPUT = 1;
export const SCTP_DIR_INPUT_ONLY = 2;

/** The event index of a chunk type (sctp_events; unknown types are DATA). */
export function sctpEvent(chunkType: number): number {
  return chunkType < SCTP_EVENTS.length ? SCTP_EVENTS[chunkType] : EV_DATA;
}

/** set_sctp_state's next state; `dir` already adjusted for NOOUTPUT (INPUT_ONLY). */
export function sctpNextState(dir: number, chunkType: number, state: number): number {
  return SCTP_STATES[(dir * EV_LAST + sctpEvent(chunkType)) * IP_VS_SCTP_S_LAST + state];
}

/**
 * The chunk type set_sctp_state acts on: the first one, or ABORT when a COOKIE_ECHO or
 * COOKIE_ACK is followed by an ABORT chunk. `second` is the type of the next chunk, or -1.
 */
export function sctpEffectiveChunk(first: number, second: number): number {
  if ((first === SCTP_CID_COOKIE_ECHO || first === SCTP_CID_COOKIE_ACK) && second === SCTP_CID_ABORT) return SCTP_CID_ABORT;
  return first;
}

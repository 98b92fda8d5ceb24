/**
 * The records the core thread and the relay threads exchange (ring.ts), as Int32 words.
 *
 * Core thread → relay thread (TO_RELAY_STRIDE words):
 *   NEW    sid cfd af c0 c1 c2 c3 cport v0 v1 v2 v3 vport daf d0 d1 d2 d3 dport pp
 *          an accepted client (descriptor cfd, shared by the threads of the process), scheduled
 *          to the real server daf/d0..d3/dport with PROXY protocol version pp: connect and relay
 *   RETRY  sid, then daf.. pp at the same offsets as NEW: the last connect failed, try this one
 *   ABORT  sid: reset both sides (retries exhausted, or the core entry expired)
 *   STOP   reset everything and exit
 * Relay thread → core thread (TO_CORE_STRIDE words), in the order the events happened:
 *   CONNECTED sid | DATA sid dir bytes | FIN sid dir | RST sid dir | CONNFAIL sid -errno | CLOSED sid
 * The core thread turns them into the same core calls RelaySession makes on its own thread.
 */

export const TO_RELAY_STRIDE = 24;
export const TO_CORE_STRIDE = 4;

export const OP_NEW = 1;
export const OP_RETRY = 2;
export const OP_ABORT = 3;
export const OP_STOP = 4;

export const EV_CONNECTED = 1;
export const EV_DATA = 2;
export const EV_FIN = 3;
export const EV_RST = 4;
export const EV_CONNFAIL = 5;
export const EV_CLOSED = 6;

// Word offsets in a TO_RELAY record.
export const R_OP = 0;
export const R_SID = 1;
export const R_CFD = 2;
export const R_AF = 3;
export const R_C0 = 4;
export const R_CPORT = 8;
export const R_V0 = 9;
export const R_VPORT = 13;
export const R_DAF = 14;
export const R_D0 = 15;
export const R_DPORT = 19;
export const R_PP = 20;

/** Gauges each relay thread keeps in shared memory (GAUGE_WORDS per thread). */
export const G_BUFFERS = 0;
export const G_BUFFER_BYTES = 1;
export const GAUGE_WORDS = 4;

/** What a relay thread is started with (workerData). */
export interface RelayThreadData {
  index: number;
  addonPath: string;
  toRelay: SharedArrayBuffer;
  toCore: SharedArrayBuffer;
  gauges: SharedArrayBuffer;
  /** The core thread's eventfd: signal it after putting events in toCore. */
  coreEventFd: number;
  bufferSize: number;
  bulkBufferSize: number;
  poolMax: number;
  connectTimeoutMs: number;
  housekeepingMs: number;
}

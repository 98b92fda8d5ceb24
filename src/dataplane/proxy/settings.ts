/**
 * The proxy dataplane's settings (DataplaneOptions.settings), parsed once into a frozen value
 * with every default in one table (STYLE rule 7). Unknown keys and bad values throw.
 */
import { TslvsError } from '../../errors.js';

export interface ProxySettings {
  /** Give up a connect to a real server after this long and try another one. */
  connectTimeoutMs: number;
  /** Extra attempts after a failed connect (refused, unreachable, timed out), each to a newly scheduled real server. */
  retries: number;
  /** How long a real server that failed a connect is skipped by every scheduler (TSLVS_DEST_F_UNREACHABLE). */
  quarantineMs: number;
  /** listen(2) backlog of each TCP virtual service (the kernel caps it at net.core.somaxconn). */
  backlog: number;
  /** Read buffer each socket starts with (bytes). Memory per idle connection is about twice this. */
  bufferSize: number;
  /** Read buffer a socket moves to once a read fills its buffer (bulk transfers). */
  bulkBufferSize: number;
  /** Free buffers kept for reuse, per size. */
  poolMax: number;
  /** Housekeeping period: connect timeouts, quarantine ends, one-packet UDP flows (ms). */
  housekeepingMs: number;
  /** 1: relay TCP through the native relay (native/src/relay.c) when it is built; 0: always through Node's TCP handles. */
  nativeRelay: number;
  /**
   * Run the core's timers (Ipvs.tick: entry expiry) this often while relaying, so entries expire
   * a few at a time instead of thousands in one pause of the thread that relays (ms; 0: leave
   * them to the daemon's tick alone).
   */
  coreTickMs: number;
  /**
   * Relay threads (native relay only): 0 relays on the thread that owns the core; N ≥ 1 starts N
   * threads that connect and relay, while the core's thread accepts and schedules.
   */
  threads: number;
}

export const PROXY_DEFAULTS: Readonly<ProxySettings> = Object.freeze({
  connectTimeoutMs: 3000,
  retries: 2,
  quarantineMs: 5000,
  backlog: 4096,
  bufferSize: 16384,
  bulkBufferSize: 65536,
  poolMax: 1024,
  housekeepingMs: 100,
  nativeRelay: 1,
  coreTickMs: 10,
  threads: 0,
});

const LIMITS: Readonly<Record<keyof ProxySettings, readonly [number, number]>> = {
  connectTimeoutMs: [1, 3_600_000],
  retries: [0, 100],
  quarantineMs: [0, 3_600_000],
  backlog: [1, 65535],
  bufferSize: [1024, 16 << 20],
  bulkBufferSize: [1024, 16 << 20],
  poolMax: [0, 1 << 20],
  housekeepingMs: [1, 60_000],
  nativeRelay: [0, 1],
  coreTickMs: [0, 60_000],
  threads: [0, 256],
};

export function parseProxySettings(raw: Readonly<Record<string, unknown>>): Readonly<ProxySettings> {
  const out: ProxySettings = { ...PROXY_DEFAULTS };
  const known = Object.keys(PROXY_DEFAULTS);
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (!known.includes(key)) {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Unknown proxy dataplane setting "${key}"`,
        `use one of ${known.join(', ')}`);
    }
    const k = key as keyof ProxySettings;
    const [lo, hi] = LIMITS[k];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
      throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Bad proxy dataplane setting ${key}="${String(value)}"`,
        `give an integer from ${lo} to ${hi} (default ${PROXY_DEFAULTS[k]})`);
    }
    out[k] = value;
  }
  if (out.bulkBufferSize < out.bufferSize) out.bulkBufferSize = out.bufferSize;
  return Object.freeze(out);
}

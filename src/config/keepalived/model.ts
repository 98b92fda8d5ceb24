/**
 * The mutable drafts the keyword handlers fill in, shaped like keepalived's own structs
 * (keepalived/include/check_data.h virtual_server_t, real_server_t, checker_t) so that the
 * post-parse pass (validate.ts) can apply validate_check_config's rules line for line.
 * `undefined` plays the role of keepalived's UINT_MAX / ULONG_MAX / -1 "not set" markers.
 * Times are microseconds here, as in keepalived; types.ts converts to milliseconds.
 */
import type { Pos } from './diagnostics.js';
import type { Line } from './parser.js';
import type { Family, SockAddr } from './values.js';

/** include/uapi/linux/ip_vs.h IP_VS_CONN_F_*: masq 0, tunnel 2, route 3; 7 = "not set yet". */
export const FWD_MASQ = 0;
export const FWD_TUNNEL = 2;
export const FWD_ROUTE = 3;
export const FWD_UNSET = 7;

export const IP_VS_SVC_F_PERSISTENT = 0x0001;
export const IP_VS_SVC_F_HASHED = 0x0002;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;
export const IP_VS_SVC_F_SCHED1 = 0x0008;
export const IP_VS_SVC_F_SCHED2 = 0x0010;
export const IP_VS_SVC_F_SCHED3 = 0x0020;

/** keepalived/include/check_data.h IPVS_WEIGHT_LIMIT, IPVS_SVC_PERSISTENT_TIMEOUT, LVS_MAX_TIMEOUT. */
export const IPVS_WEIGHT_LIMIT = 2147483647;
export const IPVS_SVC_PERSISTENT_TIMEOUT = 360;
export const LVS_MAX_TIMEOUT = 86400 * 31;
export const IPVS_FWMARK_MAX = 4294967295;
/** keepalived/include/check_data.h KEEPALIVED_DEFAULT_DELAY: 60 s, in µs. */
export const KEEPALIVED_DEFAULT_DELAY_US = 60_000_000;

export interface ScriptDraft {
  readonly argv: string[];
  /** Explicit "user [group]" words; null = default script user (resolved after parsing). */
  readonly user: string | null;
  readonly group: string | null;
  readonly at: Pos;
  /** notify / quorum / misc / vrrp: the "type" keepalived uses in its messages. */
  readonly type: string;
  /** Parse order, and where keepalived asks for the default script user (for the one message it gives). */
  readonly seq: number;
  readonly userPos: Pos;
}

export interface TunnelDraft {
  fwd: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

export interface ConnDraft {
  dst: { af: Family | 0; addr: SockAddr | null; port: number };
  bindto: { af: Family | 0; addr: SockAddr | null; port: number };
  bindIf: string;
  connectTimeoutUs: number | undefined;
  fwmark: number;
}

export type CheckerKindDraft =
  | 'TCP_CHECK' | 'HTTP_GET' | 'SSL_GET' | 'MISC_CHECK' | 'DNS_CHECK' | 'SMTP_CHECK' | 'UDP_CHECK' | 'PING_CHECK' | 'FILE_CHECK' | 'BFD_CHECK';

export interface UrlDraft {
  path: string | null;
  digest: string | null;
  status: Set<number>;
  virtualhost: string | null;
  regex: string | null;
  regexNoMatch: boolean;
  regexOptions: string[];
  regexMinOffset: number;
  regexMaxOffset: number;
}

export interface CheckerDraft {
  kind: CheckerKindDraft;
  at: Pos;
  co: ConnDraft | null;
  alpha: -1 | 0 | 1;
  delayLoopUs: number | undefined;
  warmupUs: number | undefined;
  retry: number | undefined;
  delayBeforeRetryUs: number | undefined;
  defaultRetry: number;
  defaultDelayBeforeRetryUs: number;
  logAllFailures: boolean;
  removed: boolean;
  // HTTP_GET / SSL_GET
  urls: UrlDraft[];
  virtualhost: string | null;
  httpProtocol: '1.0' | '1.0C' | '1.1';
  fastRecovery: boolean;
  enableSni: boolean;
  // MISC_CHECK
  script: ScriptDraft | null;
  miscTimeoutUs: number;
  miscDynamic: boolean;
  miscUser: { user: string; group: string | null } | null;
  miscUserPos: Pos | null;
  // DNS_CHECK
  dnsType: number;
  dnsName: string | null;
  // SMTP_CHECK
  heloName: string | null;
  // UDP_CHECK
  payload: Uint8Array | null;
  requireReply: boolean;
  replyData: Uint8Array | null;
  replyMask: Uint8Array | null;
  minReplyLength: number;
  maxReplyLength: number;
  // FILE_CHECK
  trackFile: string | null;
  fileWeight: number | undefined;
  fileReverse: boolean;
  // BFD_CHECK
  bfdName: string | null;
}

export interface RsDraft extends TunnelDraft {
  at: Pos;
  addr: SockAddr;
  effectiveWeight: number | undefined;
  iweight: number;
  uThreshold: number;
  lThreshold: number;
  alpha: -1 | 0 | 1;
  inhibit: -1 | 0 | 1;
  notifyUp: ScriptDraft | null;
  notifyDown: ScriptDraft | null;
  connectTimeoutUs: number | undefined;
  delayLoopUs: number | undefined;
  warmupUs: number | undefined;
  retry: number | undefined;
  delayBeforeRetryUs: number | undefined;
  virtualhost: string | null;
  smtpAlert: -1 | 0 | 1;
  checkers: CheckerDraft[];
  removed: boolean;
}

export interface VsDraft extends TunnelDraft {
  at: Pos;
  kind: 'address' | 'fwmark' | 'group';
  af: Family | 0;
  addr: SockAddr | null;
  fwmark: number;
  vsgname: string | null;
  /** Port the group link assigns (keepalived numbers the VSs of one group 0, 1, ...). */
  groupSeq: number;
  sched: string;
  flags: number;
  persistenceTimeout: number;
  granularity: number | null;
  pe: string;
  protocol: number;
  haSuspend: boolean;
  virtualhost: string | null;
  alpha: boolean;
  omega: boolean;
  quorum: number;
  hysteresis: number;
  quorumUp: ScriptDraft | null;
  quorumDown: ScriptDraft | null;
  connectTimeoutUs: number;
  delayLoopUs: number;
  warmupUs: number | undefined;
  retry: number | undefined;
  delayBeforeRetryUs: number | undefined;
  weight: number;
  smtpAlert: -1 | 0 | 1;
  inhibit: boolean;
  sorry: (TunnelDraft & { addr: SockAddr; inhibit: boolean; at: Pos }) | null;
  sorryIsRs: boolean;
  rs: RsDraft[];
  removed: boolean;
}

export interface VsgEntryDraft {
  kind: 'range' | 'fwmark';
  af: Family | 0;
  first: SockAddr | null;
  last: SockAddr | null;
  port: number;
  fwmark: number;
  at: Pos;
}

export interface VsgDraft {
  name: string;
  at: Pos;
  entries: VsgEntryDraft[];
  haveV4: boolean;
  haveV6: boolean;
  fwmarkNoFamily: boolean;
}

export interface TrackFileDraft {
  name: string;
  path: string | null;
  weight: number;
  reverse: boolean;
  at: Pos;
}

export interface GlobalDraft {
  routerId: string | null;
  enableScriptSecurity: boolean;
  scriptUser: { user: string; group: string | null; at: Pos } | null;
  lvsFlush: boolean;
  lvsFlushOnStop: 'none' | 'full' | 'vs';
  lvsTimeouts: { tcp: number; tcpfin: number; udp: number };
  lvsSyncDaemon: { interface: string; instance: string | null; syncId: number } | null;
  notifyFifo: string | null;
  notifyFifoScript: ScriptDraft | null;
  lvsNotifyFifo: string | null;
  lvsNotifyFifoScript: ScriptDraft | null;
  vrrpNotifyFifoScript: ScriptDraft | null;
  startupScript: ScriptDraft | null;
  shutdownScript: ScriptDraft | null;
  checkerLogAllFailures: boolean;
  rsInitNotifies: boolean;
  smtpAlert: -1 | 0 | 1;
  smtpAlertChecker: -1 | 0 | 1;
  vrrpVersion: 2 | 3;
  vrrpStrict: boolean;
  keywords: { name: string; args: string[]; at: Pos }[];
}

export interface VrrpDraft {
  name: string;
  at: Pos;
  state: 'MASTER' | 'BACKUP' | null;
  ifName: string | null;
  ifLine: Line | null;
  vrid: number;
  priority: number;
  advertIntUs: number;
  version: 0 | 2 | 3;
  family: Family | 0;
  vips: string[];
  authType: 'PASS' | 'AH' | null;
  authPass: string | null;
  nopreempt: boolean;
  preemptDelayUs: number;
  unicastConfigured: boolean;
  unicastPeers: string[];
  saddrFromConfig: boolean;
  trackScripts: { name: string; at: Pos }[];
  scripts: ScriptDraft[];
  ttl: number;
  strict: boolean | null;
}

export interface VrrpScriptDraft {
  name: string;
  at: Pos;
  script: ScriptDraft | null;
  intervalS: number;
  weight: number;
  userSet: { user: string; group: string | null } | null;
  removed: boolean;
}

export interface SyncGroupDraft {
  name: string;
  at: Pos;
  instances: { name: string; at: Pos }[] | null;
  scripts: ScriptDraft[];
}

export interface Draft {
  global: GlobalDraft;
  vs: VsDraft[];
  vsg: VsgDraft[];
  trackFiles: TrackFileDraft[];
  ssl: { password: string | null; ca: string | null; certificate: string | null; key: string | null } | null;
  vrrp: VrrpDraft[];
  vrrpScripts: VrrpScriptDraft[];
  syncGroups: SyncGroupDraft[];
  inactive: { keyword: string; name: string | null; at: Pos }[];
  /** The interface names that exist here (null: not checked). */
  interfaces: readonly string[] | null;
  /** vrrp_if.c non_existent_interface_specified: the VRRP side then stops after parsing. */
  nonExistentInterface: boolean;
}

export function newDraft(interfaces: readonly string[] | null): Draft {
  return {
    global: {
      routerId: null, enableScriptSecurity: false, scriptUser: null, lvsFlush: false, lvsFlushOnStop: 'none',
      lvsTimeouts: { tcp: 0, tcpfin: 0, udp: 0 }, lvsSyncDaemon: null, notifyFifo: null, notifyFifoScript: null,
      lvsNotifyFifo: null, lvsNotifyFifoScript: null, vrrpNotifyFifoScript: null, startupScript: null, shutdownScript: null,
      checkerLogAllFailures: false, rsInitNotifies: false, smtpAlert: -1, smtpAlertChecker: -1, vrrpVersion: 2, vrrpStrict: false,
      keywords: [],
    },
    vs: [], vsg: [], trackFiles: [], ssl: null, vrrp: [], vrrpScripts: [], syncGroups: [], inactive: [], interfaces, nonExistentInterface: false,
  };
}

export function newChecker(kind: CheckerKindDraft, at: Pos, withCo: boolean): CheckerDraft {
  return {
    kind, at,
    co: withCo ? { dst: { af: 0, addr: null, port: 0 }, bindto: { af: 0, addr: null, port: 0 }, bindIf: '', connectTimeoutUs: undefined, fwmark: 0 } : null,
    alpha: -1, delayLoopUs: undefined, warmupUs: undefined, retry: undefined, delayBeforeRetryUs: undefined,
    defaultRetry: 1, defaultDelayBeforeRetryUs: 1_000_000, logAllFailures: false, removed: false,
    urls: [], virtualhost: null, httpProtocol: '1.0', fastRecovery: false, enableSni: false,
    script: null, miscTimeoutUs: 0, miscDynamic: false, miscUser: null, miscUserPos: null,
    dnsType: 6, dnsName: null, heloName: null,
    payload: null, requireReply: false, replyData: null, replyMask: null, minReplyLength: 0, maxReplyLength: 255,
    trackFile: null, fileWeight: undefined, fileReverse: false, bfdName: null,
  };
}

/** keepalived/check/check_data.c format_vs (FMT_VS). */
export function formatVs(vs: VsDraft): string {
  if (vs.vsgname !== null) return `[${vs.vsgname}]:${vs.groupSeq}`;
  if (vs.kind === 'fwmark') return `FWM ${vs.fwmark}`;
  return trio(vs.addr, vs.protocol);
}

/** lib/utils.c inet_sockaddrtotrio: "[addr]:proto:port". */
export function trio(a: SockAddr | null, proto: number): string {
  const p = proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : proto === 0 ? 'none' : '?';
  return `[${a ? a.addr : ''}]:${p}:${a ? a.port : 0}`;
}

/**
 * The typed, frozen meaning of a keepalived.conf: what keepalived 2.2.7 would run with after its
 * own post-parse fix-ups (keepalived/check/check_data.c validate_check_config). Every default is
 * resolved here: a checker carries its effective retry, delays and timeout, an RS its port.
 * Times are milliseconds (keepalived keeps microseconds; 1 µs = 0.001 ms, so no precision is lost).
 * Addresses are inet_ntop text.
 */
import type { Pos } from './diagnostics.js';

export type Family = 2 | 10;
/** IPVS forwarding as tslvs names it: NAT → masq, DR → route, TUN → tunnel. */
export type Forwarding = 'masq' | 'route' | 'tunnel';

export interface Tunnel {
  readonly type: 'ipip' | 'gue' | 'gre';
  /** GUE destination port, else 0. */
  readonly port: number;
  readonly csum: 'nocsum' | 'csum' | 'remcsum';
}

/** A script with its argv (lib/notify.c set_script_params_array) and the user it runs as. */
export interface Script {
  readonly argv: readonly string[];
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly at: Pos;
}

export interface Endpoint {
  readonly af: Family;
  readonly addr: string;
  readonly port: number;
}

/** Connection options of a checker (keepalived/check/check_api.c conn_opts_t), resolved. */
export interface ConnectOptions {
  /** Where the probe goes: connect_ip/connect_port or the real server's address and port. */
  readonly dest: Endpoint;
  readonly bindto: Endpoint | null;
  readonly bindIf: string | null;
  readonly connectTimeoutMs: number;
  /** SO_MARK for probe packets (0 = none). */
  readonly fwmark: number;
}

interface CheckerCommon {
  readonly at: Pos;
  readonly alpha: boolean;
  readonly retry: number;
  readonly delayBeforeRetryMs: number;
  readonly delayLoopMs: number;
  readonly warmupMs: number;
  readonly logAllFailures: boolean;
}

export interface TcpCheck extends CheckerCommon {
  readonly kind: 'TCP_CHECK';
  readonly connect: ConnectOptions;
}

export interface HttpUrl {
  readonly path: string;
  /** Lower-case hex MD5 of the body, or null. */
  readonly digest: string | null;
  /** Accepted status codes, ascending (default 200..299). */
  readonly statusCodes: readonly number[];
  readonly virtualhost: string | null;
  /** The Host header actually sent: url → checker → real server → virtual server virtualhost, else "addr:port". */
  readonly host: string;
  readonly regex: { readonly pattern: string; readonly noMatch: boolean; readonly options: readonly string[]; readonly minOffset: number; readonly maxOffset: number } | null;
}

export interface HttpCheck extends CheckerCommon {
  readonly kind: 'HTTP_GET' | 'SSL_GET';
  readonly connect: ConnectOptions;
  readonly urls: readonly HttpUrl[];
  readonly virtualhost: string | null;
  readonly httpProtocol: '1.0' | '1.0C' | '1.1';
  readonly fastRecovery: boolean;
  readonly enableSni: boolean;
}

export interface MiscCheck extends CheckerCommon {
  readonly kind: 'MISC_CHECK';
  readonly script: Script;
  /** misc_timeout, else the virtual server's delay_loop (keepalived/check/check_misc.c). */
  readonly timeoutMs: number;
  readonly dynamic: boolean;
}

export interface DnsCheck extends CheckerCommon {
  readonly kind: 'DNS_CHECK';
  readonly connect: ConnectOptions;
  readonly type: string;
  readonly typeCode: number;
  /** Query name; "" is the root. */
  readonly name: string;
}

export interface SmtpCheck extends CheckerCommon {
  readonly kind: 'SMTP_CHECK';
  readonly connect: ConnectOptions;
  readonly heloName: string;
}

export interface UdpCheck extends CheckerCommon {
  readonly kind: 'UDP_CHECK';
  readonly connect: ConnectOptions;
  /** Bytes to send; null means 32 random bytes (keepalived/core/layer4.c UDP_BUFSIZE). */
  readonly payload: readonly number[] | null;
  readonly requireReply: boolean;
  readonly replyData: readonly number[] | null;
  /** Per byte: bits set are wildcards (X/x nibbles). */
  readonly replyMask: readonly number[] | null;
  readonly minReplyLength: number;
  readonly maxReplyLength: number;
}

export interface PingCheck extends CheckerCommon {
  readonly kind: 'PING_CHECK';
  readonly connect: ConnectOptions;
}

export interface FileCheck extends CheckerCommon {
  readonly kind: 'FILE_CHECK';
  readonly trackFile: string;
  readonly path: string;
  readonly weight: number;
  readonly reverse: boolean;
}

export interface BfdCheck extends CheckerCommon {
  readonly kind: 'BFD_CHECK';
  readonly name: string;
}

export type CheckerConfig = TcpCheck | HttpCheck | MiscCheck | DnsCheck | SmtpCheck | UdpCheck | PingCheck | FileCheck | BfdCheck;
export type CheckerKind = CheckerConfig['kind'];

export interface RealServer {
  readonly at: Pos;
  /** keepalived's name for it in messages, e.g. "[198.51.100.11]:tcp:80". */
  readonly key: string;
  readonly af: Family;
  readonly addr: string;
  readonly port: number;
  /** Configured weight (keepalived iweight). */
  readonly weight: number;
  readonly forwarding: Forwarding;
  readonly tunnel: Tunnel | null;
  readonly uThreshold: number;
  readonly lThreshold: number;
  readonly inhibitOnFailure: boolean;
  readonly alpha: boolean;
  readonly notifyUp: Script | null;
  readonly notifyDown: Script | null;
  readonly smtpAlert: boolean;
  readonly virtualhost: string | null;
  readonly checkers: readonly CheckerConfig[];
}

export interface SorryServer {
  readonly af: Family;
  readonly addr: string;
  readonly port: number;
  readonly forwarding: Forwarding;
  readonly tunnel: Tunnel | null;
  readonly inhibit: boolean;
  /** True when it is also one of the real servers. */
  readonly isRealServer: boolean;
}

export interface VirtualServerGroupEntry {
  readonly kind: 'range' | 'fwmark';
  readonly af: Family | 0;
  /** First and last address of a range (equal for a single address). */
  readonly first: string;
  readonly last: string;
  /** 0 = no port. */
  readonly port: number;
  readonly fwmark: number;
}

export interface VirtualServerGroup {
  readonly name: string;
  readonly at: Pos;
  readonly entries: readonly VirtualServerGroupEntry[];
}

export interface VirtualServer {
  readonly at: Pos;
  /** keepalived's name for it: "[192.0.2.10]:tcp:80", "FWM 1", "[WEB]:0". */
  readonly key: string;
  readonly kind: 'address' | 'fwmark' | 'group';
  readonly af: Family;
  readonly addr: string | null;
  readonly port: number;
  readonly fwmark: number;
  readonly group: string | null;
  /** IPPROTO_* (6, 17, 132); 0 for fwmark services. */
  readonly protocol: 0 | 6 | 17 | 132;
  readonly scheduler: string;
  /** IP_VS_SVC_F_* flags except PERSISTENT (ops, flag-1..3 = sh-port/sh-fallback/mh-*). */
  readonly flags: number;
  readonly forwarding: Forwarding;
  readonly tunnel: Tunnel | null;
  /** Seconds; 0 = not persistent. */
  readonly persistenceTimeoutS: number;
  /** IPv4 netmask as u32 (host order) or IPv6 prefix length; null = not set. */
  readonly persistenceGranularity: number | null;
  readonly persistenceEngine: string;
  readonly delayLoopMs: number;
  readonly connectTimeoutMs: number;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly quorumUp: Script | null;
  readonly quorumDown: Script | null;
  readonly alpha: boolean;
  readonly omega: boolean;
  readonly inhibitOnFailure: boolean;
  readonly haSuspend: boolean;
  readonly virtualhost: string | null;
  readonly smtpAlert: boolean;
  /** Default weight of real servers that set none. */
  readonly weight: number;
  readonly sorryServer: SorryServer | null;
  readonly realServers: readonly RealServer[];
}

export interface TrackFile {
  readonly name: string;
  readonly path: string;
  readonly weight: number;
  readonly reverse: boolean;
  readonly at: Pos;
}

export interface GlobalDefs {
  readonly routerId: string | null;
  readonly enableScriptSecurity: boolean;
  readonly scriptUser: string | null;
  readonly lvsFlush: boolean;
  readonly lvsFlushOnStop: 'none' | 'full' | 'vs';
  /** Seconds, 0 = leave the kernel's value. */
  readonly lvsTimeouts: { readonly tcp: number; readonly tcpfin: number; readonly udp: number };
  readonly lvsSyncDaemon: { readonly interface: string; readonly instance: string | null; readonly syncId: number } | null;
  readonly notifyFifo: string | null;
  readonly lvsNotifyFifo: string | null;
  readonly checkerLogAllFailures: boolean;
  readonly rsInitNotifies: boolean;
  readonly smtpAlert: boolean | null;
  readonly smtpAlertChecker: boolean | null;
  /** Every global_defs keyword seen, with its words, in file order (for keywords tslvs does not model). */
  readonly keywords: readonly { readonly name: string; readonly args: readonly string[]; readonly at: Pos }[];
}

export interface VrrpInstance {
  readonly name: string;
  readonly at: Pos;
  readonly state: 'MASTER' | 'BACKUP';
  readonly interface: string | null;
  readonly virtualRouterId: number;
  readonly priority: number;
  readonly advertIntMs: number;
  readonly version: 2 | 3;
  readonly virtualIpAddresses: readonly string[];
  readonly authType: 'PASS' | 'AH' | null;
  readonly nopreempt: boolean;
  readonly unicastPeers: readonly string[];
  readonly trackScripts: readonly string[];
}

export interface VrrpSyncGroup {
  readonly name: string;
  readonly at: Pos;
  readonly instances: readonly string[];
}

export interface VrrpScript {
  readonly name: string;
  readonly at: Pos;
  readonly script: Script | null;
  readonly intervalS: number;
  readonly weight: number;
}

/** A block tslvs parses and validates but does not act on yet (VRRP, BFD, static routes...). */
export interface InactiveBlock {
  readonly keyword: string;
  readonly name: string | null;
  readonly at: Pos;
}

export interface KeepalivedConfig {
  /** Absolute paths of every file read, main file first. */
  readonly files: readonly string[];
  readonly globalDefs: GlobalDefs;
  readonly virtualServerGroups: readonly VirtualServerGroup[];
  readonly virtualServers: readonly VirtualServer[];
  readonly trackFiles: readonly TrackFile[];
  readonly ssl: { readonly password: string | null; readonly ca: string | null; readonly certificate: string | null; readonly key: string | null } | null;
  readonly vrrpInstances: readonly VrrpInstance[];
  readonly vrrpSyncGroups: readonly VrrpSyncGroup[];
  readonly vrrpScripts: readonly VrrpScript[];
  /** Blocks that are parsed and validated but not active: report them once at start. */
  readonly inactive: readonly InactiveBlock[];
}

/**
 * ipvsadm's option table (parse_options' poptOption array), its command × option legality
 * table (commands_v_options) and tunnel type × option table (tunnel_types_v_options), with the
 * two checks that walk them in column order (generic_opt_check, tunnel_opt_check).
 * Two tslvs extension columns come last (--json, --proxy-protocol), so that they never change
 * which message an ipvsadm command line gets.
 */
import { ArgKind, type OptionSpec } from './argv.js';
import { CMD_NAMES, type Failure, M, OPT_NAMES, TUN_NAMES } from './messages.js';

export enum Cmd {
  NONE = 0, ADD, EDIT, DEL, FLUSH, LIST, ADDDEST, DELDEST, EDITDEST, TIMEOUT, STARTDAEMON, STOPDAEMON,
  RESTORE, SAVE, ZERO,
}

export enum Optc {
  NUMERIC = 0, CONNECTION, SERVICE, SCHEDULER, PERSISTENT, NETMASK, SERVER, FORWARD, WEIGHT,
  UTHRESHOLD, LTHRESHOLD, MCAST, TIMEOUT, DAEMON, STATS, RATE, THRESHOLDS, PERSISTENTCONN, NOSORT,
  SYNCID, EXACT, ONEPACKET, PERSISTENCE_ENGINE, SCHED_FLAGS, MCAST_GROUP, MCAST_PORT, MCAST_TTL,
  SYNC_MAXLEN, TUN_INFO, TUN_TYPE, TUN_PORT, TUN_NOCSUM, TUN_CSUM, TUN_REMCSUM,
  /** tslvs: -L --json */
  JSON,
  /** tslvs: -a/-e --proxy-protocol 1|2 */
  PROXY_PROTOCOL,
}

export const NUMBER_OF_OPT = 36;

/**
 * '+' compulsory, 'x' illegal, '1' at most one of the '1' options, ' ' optional; one row per
 * command (Cmd order), one column per Optc. The first 34 columns are ipvsadm 1.31's, verbatim.
 */
const COMMANDS_V_OPTIONS: readonly string[] = [
  /* ADD     */ 'xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx' + 'xx',
  /* EDIT    */ 'xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx' + 'xx',
  /* DEL     */ 'xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
  /* FLUSH   */ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
  /* LIST    */ ' 11xxxxxxxxx11       xxxxxxx xxxxx' + ' x',
  /* ADDSRV  */ 'xx+xxx+    xxxxxxxxxxxxxxxxxx     ' + 'x ',
  /* DELSRV  */ 'xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
  /* EDITSRV */ 'xx+xxx+    xxxxxxxxxxxxxxxxxx     ' + 'x ',
  /* TIMEOUT */ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
  /* STARTD  */ 'xxxxxxxxxxx xxxxxxx xxxx    xxxxxx' + 'xx',
  /* STOPD   */ 'xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx' + 'xx',
  /* RESTORE */ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
  /* SAVE    */ ' xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
  /* ZERO    */ 'xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + 'xx',
];

/** Columns: tun-port, tun-nocsum, tun-csum, tun-remcsum; rows: ipip, gue, gre. */
const TUNOPTS = [Optc.TUN_PORT, Optc.TUN_NOCSUM, Optc.TUN_CSUM, Optc.TUN_REMCSUM] as const;
const TUNNEL_TYPES_V_OPTIONS: readonly string[] = ['xxxx', '+111', 'x11x'];

/** Option values as parse_options' switch sees them: the short letter or a TAG_* name. */
export type OptVal =
  | 'A' | 'E' | 'D' | 'C' | 'L' | 'l' | 'Z' | 'a' | 'e' | 'd' | 'h' | 'v' | 'R' | 'S'
  | 'set' | 'start-daemon' | 'stop-daemon' | 't' | 'u' | 'sctp-service' | 'f' | 's' | 'p' | 'M' | 'r'
  | 'm' | 'i' | 'g' | 'w' | 'x' | 'y' | 'n' | 'c' | 'mcast-interface' | 'I' | 'timeout' | 'daemon'
  | 'stats' | 'rate' | 'thresholds' | 'persistent-conn' | 'nosort' | 'sort' | 'X' | '6' | 'o' | 'pe' | 'b'
  | 'mcast-group' | 'mcast-port' | 'mcast-ttl' | 'sync-maxlen' | 'tun-info' | 'tun-type' | 'tun-port'
  | 'tun-nocsum' | 'tun-csum' | 'tun-remcsum' | 'json' | 'proxy-protocol';

const N = ArgKind.None;
const R = ArgKind.Required;

/** parse_options' poptOption table, in its order (popt searches it front to back). */
export const OPTION_TABLE: readonly OptionSpec<OptVal>[] = [
  { long: 'add-service', short: 'A', kind: N, val: 'A' },
  { long: 'edit-service', short: 'E', kind: N, val: 'E' },
  { long: 'delete-service', short: 'D', kind: N, val: 'D' },
  { long: 'clear', short: 'C', kind: N, val: 'C' },
  { long: 'list', short: 'L', kind: N, val: 'L' },
  { long: 'list', short: 'l', kind: N, val: 'l' },
  { long: 'zero', short: 'Z', kind: N, val: 'Z' },
  { long: 'add-server', short: 'a', kind: N, val: 'a' },
  { long: 'edit-server', short: 'e', kind: N, val: 'e' },
  { long: 'delete-server', short: 'd', kind: N, val: 'd' },
  { long: 'set', short: null, kind: N, val: 'set' },
  { long: 'help', short: 'h', kind: N, val: 'h' },
  { long: 'version', short: 'v', kind: N, val: 'v' },
  { long: 'restore', short: 'R', kind: N, val: 'R' },
  { long: 'save', short: 'S', kind: N, val: 'S' },
  { long: 'start-daemon', short: null, kind: R, val: 'start-daemon' },
  { long: 'stop-daemon', short: null, kind: R, val: 'stop-daemon' },
  { long: 'tcp-service', short: 't', kind: R, val: 't' },
  { long: 'udp-service', short: 'u', kind: R, val: 'u' },
  { long: 'sctp-service', short: null, kind: R, val: 'sctp-service' },
  { long: 'fwmark-service', short: 'f', kind: R, val: 'f' },
  { long: 'scheduler', short: 's', kind: R, val: 's' },
  { long: 'persistent', short: 'p', kind: ArgKind.Optional, val: 'p' },
  { long: 'netmask', short: 'M', kind: R, val: 'M' },
  { long: 'real-server', short: 'r', kind: R, val: 'r' },
  { long: 'masquerading', short: 'm', kind: N, val: 'm' },
  { long: 'ipip', short: 'i', kind: N, val: 'i' },
  { long: 'gatewaying', short: 'g', kind: N, val: 'g' },
  { long: 'weight', short: 'w', kind: R, val: 'w' },
  { long: 'u-threshold', short: 'x', kind: R, val: 'x' },
  { long: 'l-threshold', short: 'y', kind: R, val: 'y' },
  { long: 'numeric', short: 'n', kind: N, val: 'n' },
  { long: 'connection', short: 'c', kind: N, val: 'c' },
  { long: 'mcast-interface', short: null, kind: R, val: 'mcast-interface' },
  { long: 'syncid', short: null, kind: R, val: 'I' },
  { long: 'timeout', short: null, kind: N, val: 'timeout' },
  { long: 'daemon', short: null, kind: N, val: 'daemon' },
  { long: 'stats', short: null, kind: N, val: 'stats' },
  { long: 'rate', short: null, kind: N, val: 'rate' },
  { long: 'thresholds', short: null, kind: N, val: 'thresholds' },
  { long: 'persistent-conn', short: null, kind: N, val: 'persistent-conn' },
  { long: 'nosort', short: null, kind: N, val: 'nosort' },
  { long: 'sort', short: null, kind: N, val: 'sort' },
  { long: 'exact', short: 'X', kind: N, val: 'X' },
  { long: 'ipv6', short: '6', kind: N, val: '6' },
  { long: 'ops', short: 'o', kind: N, val: 'o' },
  { long: 'pe', short: null, kind: R, val: 'pe' },
  { long: 'sched-flags', short: 'b', kind: R, val: 'b' },
  { long: 'mcast-group', short: null, kind: R, val: 'mcast-group' },
  { long: 'mcast-port', short: null, kind: R, val: 'mcast-port' },
  { long: 'mcast-ttl', short: null, kind: R, val: 'mcast-ttl' },
  { long: 'sync-maxlen', short: null, kind: R, val: 'sync-maxlen' },
  { long: 'tun-info', short: null, kind: N, val: 'tun-info' },
  { long: 'tun-type', short: null, kind: R, val: 'tun-type' },
  { long: 'tun-port', short: null, kind: R, val: 'tun-port' },
  { long: 'tun-nocsum', short: null, kind: N, val: 'tun-nocsum' },
  { long: 'tun-csum', short: null, kind: N, val: 'tun-csum' },
  { long: 'tun-remcsum', short: null, kind: N, val: 'tun-remcsum' },
  // tslvs extensions
  { long: 'json', short: null, kind: N, val: 'json' },
  { long: 'proxy-protocol', short: null, kind: R, val: 'proxy-protocol' },
];

/** A set of Optc flags (ipvsadm keeps them in an unsigned long long). */
export class OptionSet {
  /** Options 0..29 and 30..35 as two small bit masks (a restore parses 100,000 lines). */
  #lo = 0;
  #hi = 0;

  has(o: Optc): boolean {
    return o < 30 ? (this.#lo & (1 << o)) !== 0 : (this.#hi & (1 << (o - 30))) !== 0;
  }

  /** set_option: a second use of the same option is "multiple '<name>' options specified". */
  set(o: Optc): Failure | null {
    if (this.has(o)) return M.multipleOption(OPT_NAMES[o]);
    if (o < 30) this.#lo |= 1 << o;
    else this.#hi |= 1 << (o - 30);
    return null;
  }
}

/** generic_opt_check: the first violation in column order, or null. */
export function genericOptCheck(cmd: Cmd, options: OptionSet): Failure | null {
  const row = COMMANDS_V_OPTIONS[cmd - 1];
  const cmdName = CMD_NAMES[cmd - 1];
  let last = 0;
  let count = 0;
  for (let j = 0; j < NUMBER_OF_OPT; j++) {
    const rule = row[j];
    if (!options.has(j)) {
      if (rule === '+') return M.needOption(OPT_NAMES[j], cmdName);
    } else {
      if (rule === 'x') return M.illegalOption(OPT_NAMES[j], cmdName);
      if (rule === '1') {
        count++;
        if (count === 1) {
          last = j;
          continue;
        }
        return M.optionConflict(OPT_NAMES[j], OPT_NAMES[last], cmdName);
      }
    }
  }
  return null;
}

/** tunnel_opt_check for tunnel type 0 ipip, 1 gue, 2 gre. */
export function tunnelOptCheck(tunType: number, options: OptionSet): Failure | null {
  const row = TUNNEL_TYPES_V_OPTIONS[tunType];
  const typeName = TUN_NAMES[tunType];
  let last = 0;
  let count = 0;
  for (let j = 0; j < TUNOPTS.length; j++) {
    const k = TUNOPTS[j];
    if (!options.has(k)) {
      if (row[j] === '+') return M.needTunOption(OPT_NAMES[k], typeName);
    } else {
      if (row[j] === 'x') return M.illegalTunOption(OPT_NAMES[k], typeName);
      if (row[j] === '1') {
        count++;
        if (count === 1) {
          last = k;
          continue;
        }
        return M.tunOptionConflict(OPT_NAMES[k], OPT_NAMES[last], typeName);
      }
    }
  }
  return null;
}

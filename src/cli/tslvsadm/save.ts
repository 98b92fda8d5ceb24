/**
 * The -S rule format (ipvsadm.c print_service_entry with FMT_RULE, print_tunnel_rule): one
 * "-A" line per service and one "-a" line per real server, in -L's order. What ipvsadm saves
 * and what it leaves out is kept: "-p" always with its timeout, "-M" only when not the default,
 * "--pe" even without -p, thresholds never, Local real servers as "-g".
 * tslvs extension: "--proxy-protocol N" at the end of an -a line, only when it is set, so a
 * table without it saves exactly as ipvsadm would and restores into the real ipvsadm.
 */
import type { DestSnapshot, ServiceSnapshot } from '../../control/protocol.js';
import {
  IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_LOCALNODE, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
  IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT,
} from './command.js';
import { hasSchedFlags, schedFlagsText } from './format.js';
import { TUN_NAMES } from './messages.js';
import { AF_INET, AF_INET6, ntop } from './resolve.js';

const TUN_FLAG_OPTS = ['--tun-nocsum', '--tun-csum', '--tun-remcsum'];

function fwdSwitch(fwd: number): string {
  switch (fwd & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_MASQ: return '-m';
    case IP_VS_CONN_F_TUNNEL: return '-i';
    case IP_VS_CONN_F_LOCALNODE:
    case IP_VS_CONN_F_DROUTE: return '-g';
    default: return '(null)';
  }
}

/** The "-A ..." line (with its newline). */
export function ruleServiceLine(svcName: string, se: ServiceSnapshot, sched: string): string {
  let out = `-A ${svcName} -s ${sched}`;
  if (se.flags & IP_VS_SVC_F_PERSISTENT) {
    out += ` -p ${se.timeoutS >>> 0}`;
    if (se.af === AF_INET && se.netmask >>> 0 !== 0xffffffff) out += ` -M ${ntop({ af: AF_INET, w: [se.netmask >>> 0, 0, 0, 0] })}`;
    if (se.af === AF_INET6 && se.netmask !== 128) out += ` -M ${se.netmask | 0}`;
  }
  if (se.pe) out += ` --pe ${se.pe}`;
  if (se.flags & IP_VS_SVC_F_ONEPACKET) out += ' -o';
  if (hasSchedFlags(se.flags)) out += ` -b ${schedFlagsText(se.sched, se.flags)}`;
  return out;
}

/** One "-a ..." line (with its newline). */
export function ruleDestLine(svcName: string, dname: string, e: DestSnapshot): string {
  let out = `-a ${svcName} -r ${dname} ${fwdSwitch(e.fwd)} -w ${e.weight | 0}`;
  if ((e.fwd & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_TUNNEL) {
    switch (e.tunType) {
      case 2: out += ` --tun-type ${TUN_NAMES[2]} ${TUN_FLAG_OPTS[e.tunFlags] ?? '(null)'}`; break;
      case 1: out += ` --tun-type ${TUN_NAMES[1]} --tun-port ${e.tunPort} ${TUN_FLAG_OPTS[e.tunFlags] ?? '(null)'}`; break;
      case 0: out += ` --tun-type ${TUN_NAMES[0]}`; break;
      default: break;
    }
  }
  if (e.proxyProtocol) out += ` --proxy-protocol ${e.proxyProtocol}`;
  return `${out}\n`;
}


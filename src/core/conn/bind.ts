/**
 * Destination accounting when a connection entry is bound to or released from a destination,
 * and when its TCP/SCTP state flips between active and inactive, as net/netfilter/ipvs
 * ip_vs_conn.c (ip_vs_bind_dest, ip_vs_unbind_dest) and ip_vs_proto_tcp.c (set_tcp_state).
 * Templates count in persistconns only. Schedulers that index dests by load are told, but only
 * about dests still linked in their service: a deleted dest (in the trash) left the scheduler's
 * index in del_dest, and its entries must not put it back.
 */
import { type Dest, IP_VS_CONN_F_INACTIVE, IP_VS_CONN_F_TEMPLATE, updateOverload } from '../dest.js';

/** ip_vs_bind_dest's counter part; `flags` are the entry's flags after binding. */
export function bindDest(dest: Dest, flags: number): void {
  dest.refcnt++;
  if (flags & IP_VS_CONN_F_TEMPLATE) {
    dest.persistConns++;
    return;
  }
  if (!(flags & IP_VS_CONN_F_INACTIVE)) dest.activeConns++;
  const tc = ++dest.totalConns;
  if (tc === dest.uThreshold) updateOverload(dest, 1);
  notify(dest);
}

/** ip_vs_unbind_dest's counter part. */
export function unbindDest(dest: Dest, flags: number): void {
  dest.refcnt--;
  if (flags & IP_VS_CONN_F_TEMPLATE) {
    dest.persistConns--;
    return;
  }
  if (!(flags & IP_VS_CONN_F_INACTIVE)) dest.activeConns--;
  const tc = dest.totalConns--;
  if (tc === dest.lThresholdVal) updateOverload(dest, -1);
  notify(dest);
}

/** set_tcp_state / set_sctp_state: an entry became active (true) or inactive (false). */
export function setActive(dest: Dest, active: boolean): void {
  if (active) dest.activeConns++;
  else dest.activeConns--;
  notify(dest);
}

function notify(dest: Dest): void {
  if (dest.isAvailable()) dest.svc.scheduler?.connsChanged?.(dest.svc, dest);
}

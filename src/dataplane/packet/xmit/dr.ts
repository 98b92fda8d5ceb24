/**
 * Direct routing (ip_vs_dr_xmit, "Route"): the IP packet leaves unchanged except for the
 * TTL/hop limit (and the IPv4 header checksum), in a frame addressed to the real server's MAC.
 * The real server holds the VIP on a non-ARP interface and answers the client directly.
 */
import type { Parsed } from '../frame/parse.js';
import { decrementTtl, mtuOk } from './common.js';
import { D_NO_NEIGH, type XmitEnv } from './env.js';

/**
 * Forwards the frame at p to the neighbour in `slot` (-1: unresolved). `txFlags`, `csumStart`
 * (from the frame start), `csumOff` and `gso` describe what the kernel must still do.
 */
export function drXmit(env: XmitEnv, p: Parsed, slot: number, txFlags: number, csumStart: number, csumOff: number, gso: number): boolean {
  if (slot < 0) {
    env.drops[D_NO_NEIGH]++;
    return false;
  }
  if (!decrementTtl(env, p)) return false;
  if (!mtuOk(env, p, env.mtu, gso !== 0)) return false;
  env.setEthToNeigh(p.off, slot);
  env.forwarded[3]++;
  return env.push(p.off, p.end - p.off, txFlags, csumStart, csumOff, gso);
}

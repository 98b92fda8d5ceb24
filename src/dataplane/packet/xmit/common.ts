/**
 * The steps every method takes before a packet leaves (__ip_vs_get_out_rt in ip_vs_xmit.c):
 * decrement_ttl (ICMP time exceeded at TTL <= 1) and ensure_mtu_is_adequate (ICMP
 * "fragmentation needed" / "packet too big" for a packet larger than the usable MTU that may
 * not be fragmented). GSO frames are exempt from the MTU check, as skb_is_gso exempts them:
 * the kernel cuts them to gso_size segments on the way out.
 */
import { ICMP_DEST_UNREACH, ICMP_EXC_TTL, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED, ICMPV6_PKT_TOOBIG, ICMPV6_TIME_EXCEED, mayAnswerWithError } from '../frame/icmp.js';
import { ipv4DecTtl, ipv4HasDf } from '../frame/ipv4.js';
import { ipv6DecHop } from '../frame/ipv6.js';
import type { Parsed } from '../frame/parse.js';
import { D_FRAG_NEEDED, D_TOO_BIG, D_TTL, type XmitEnv } from './env.js';

/** TTL/hop limit - 1, or an ICMP time exceeded and false. */
export function decrementTtl(env: XmitEnv, p: Parsed): boolean {
  if (p.af === 2) {
    if (p.ttl <= 1) {
      if (mayAnswerWithError(p)) env.icmpError(p, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0, env.local4);
      env.drops[D_TTL]++;
      return false;
    }
    p.ttl = ipv4DecTtl(env.b, p.l3);
    return true;
  }
  if (p.ttl <= 1) {
    if (mayAnswerWithError(p)) env.icmpError(p, ICMPV6_TIME_EXCEED, 0, 0, 0);
    env.drops[D_TTL]++;
    return false;
  }
  p.ttl = ipv6DecHop(env.b, p.l3);
  return true;
}

/**
 * True when the IP datagram fits `mtu`. Otherwise: DF set (IPv4) or IPv6 → an ICMP error
 * carrying `mtu` to the sender, and false; no DF → false as well (this dataplane does not
 * fragment), counted apart.
 */
export function mtuOk(env: XmitEnv, p: Parsed, mtu: number, gso: boolean): boolean {
  const len = p.ipEnd - p.l3;
  if (len <= mtu || gso) return true;
  if (p.af === 2) {
    if (ipv4HasDf(env.b, p.l3)) {
      if (mayAnswerWithError(p)) env.icmpError(p, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu & 0xffff, 0);
      env.drops[D_FRAG_NEEDED]++;
    } else {
      env.drops[D_TOO_BIG]++;
    }
    return false;
  }
  if (mayAnswerWithError(p)) env.icmpError(p, ICMPV6_PKT_TOOBIG, 0, mtu, 0);
  env.drops[D_FRAG_NEEDED]++;
  return false;
}

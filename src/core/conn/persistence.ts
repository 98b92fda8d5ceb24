/**
 * Persistence templates: which template a packet of a persistent service uses, as
 * ip_vs_sched_persist (net/netfilter/ipvs/ip_vs_core.c) builds its ip_vs_conn_param.
 * - The client is its source address masked with the service netmask (IPv4 mask, IPv6 prefix).
 * - The packet's port equals the service port: <proto, net, 0, vaddr, vport>, except FTP
 *   (port 21), whose template has vport 0 so that its data connections share it.
 * - Another port (fwmark and port-0 services, FTP data): fwmark services key on
 *   <IPPROTO_IP, net, 0, 0.0.0.<mark>, 0>; port-0 and FTP services on <proto, net, 0, vaddr, 0>.
 * - The template's destination port is the dest's port only in the first case (not FTP), else 0;
 *   the connection's destination port is the dest's port when the packet's port equals the
 *   service port and the dest's port is not 0, else the packet's own port.
 * An invalidated template (ip_vs_check_template) gets cport 0 and vport = dport = 0xffff, so it
 * never matches again and is left to expire.
 */
import { AF_INET, AF_INET6, type Af } from '../addr.js';
import type { Dest } from '../dest.js';
import type { Flow } from '../flow.js';
import { FTPPORT, IPPROTO_IP, type VirtualService } from '../service.js';

/** ip_vs_sched_persist's template parameters, filled in place (one per Ipvs, reused). */
export class TemplateKey {
  af: Af = AF_INET;
  protocol = 0;
  c0 = 0; c1 = 0; c2 = 0; c3 = 0;
  v0 = 0; v1 = 0; v2 = 0; v3 = 0;
  vport = 0;
}

/** The invalidated template's ports (htons(0xffff)). */
export const INVALID_TEMPLATE_PORT = 0xffff;

/** IPv6 prefix `plen` applied to word `i` (0..3). */
function prefixWord(plen: number, i: number, w: number): number {
  const bits = plen - i * 32;
  if (bits >= 32) return w >>> 0;
  if (bits <= 0) return 0;
  return (w & (0xffffffff << (32 - bits))) >>> 0;
}

/** Fill `k` with the template identity of packet `f` for persistent service `svc`. */
export function persistTemplateKey(svc: VirtualService, f: Flow, k: TemplateKey): void {
  k.af = svc.af;
  if (svc.af === AF_INET6) {
    const plen = svc.netmask;
    k.c0 = prefixWord(plen, 0, f.s0);
    k.c1 = prefixWord(plen, 1, f.s1);
    k.c2 = prefixWord(plen, 2, f.s2);
    k.c3 = prefixWord(plen, 3, f.s3);
  } else {
    k.c0 = (f.s0 & svc.netmask) >>> 0;
    k.c1 = 0; k.c2 = 0; k.c3 = 0;
  }
  k.protocol = f.protocol;
  k.v0 = f.d0; k.v1 = f.d1; k.v2 = f.d2; k.v3 = f.d3;
  k.vport = 0;
  if (f.dport === svc.port) {
    if (svc.port !== FTPPORT) k.vport = f.dport;
  } else if (svc.fwmark) {
    k.protocol = IPPROTO_IP;
    k.v0 = svc.fwmark >>> 0;
    k.v1 = 0; k.v2 = 0; k.v3 = 0;
  }
}

/** The destination port a new template stores. */
export function templateDport(svc: VirtualService, dstPort: number, dest: Dest): number {
  return dstPort === svc.port && svc.port !== FTPPORT ? dest.port : 0;
}

/** The destination port of a connection created through a template. */
export function persistConnDport(svc: VirtualService, dstPort: number, dest: Dest): number {
  return dstPort === svc.port && dest.port ? dest.port : dstPort;
}

/**
 * The PROXY protocol header sent first on a connection to a real server, so it learns the
 * client's address that a proxy hides (HAProxy's proxy-protocol.txt, versions 1 and 2).
 * Chosen per destination (Dest.proxyProtocol: 0 off, 1 text, 2 binary). The source is the
 * client, the destination the virtual address and port it connected to. Only TCP: version 1
 * has no UDP form, and the real servers that read the header (nginx, HAProxy) accept it on
 * streams only.
 */
import { AF_INET6, type Af } from '../../core/addr.js';

/** The 12-byte version 2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Version 1: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (TCP6 for IPv6), at most 107 bytes. */
export function encodeProxyV1(af: Af, src: string, dst: string, sport: number, dport: number): Buffer {
  const fam = af === AF_INET6 ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${fam} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1');
}

/**
 * Version 2, command PROXY, transport STREAM: signature, 0x21, 0x11 (TCP over IPv4) or 0x21
 * (TCP over IPv6), the address block length (12 or 36) and the block: source address,
 * destination address, source port, destination port, all in network order. Addresses are
 * four host-order words each, as IpAddr and Flow keep them (IPv4 in word 0).
 */
export function encodeProxyV2(
  af: Af,
  s0: number, s1: number, s2: number, s3: number,
  d0: number, d1: number, d2: number, d3: number,
  sport: number, dport: number,
): Buffer {
  const v6 = af === AF_INET6;
  const alen = v6 ? 36 : 12;
  const b = Buffer.allocUnsafe(16 + alen);
  PROXY_V2_SIGNATURE.copy(b, 0);
  b[12] = 0x21;
  b[13] = v6 ? 0x21 : 0x11;
  b.writeUInt16BE(alen, 14);
  if (v6) {
    b.writeUInt32BE(s0 >>> 0, 16); b.writeUInt32BE(s1 >>> 0, 20); b.writeUInt32BE(s2 >>> 0, 24); b.writeUInt32BE(s3 >>> 0, 28);
    b.writeUInt32BE(d0 >>> 0, 32); b.writeUInt32BE(d1 >>> 0, 36); b.writeUInt32BE(d2 >>> 0, 40); b.writeUInt32BE(d3 >>> 0, 44);
    b.writeUInt16BE(sport, 48);
    b.writeUInt16BE(dport, 50);
  } else {
    b.writeUInt32BE(s0 >>> 0, 16);
    b.writeUInt32BE(d0 >>> 0, 20);
    b.writeUInt16BE(sport, 24);
    b.writeUInt16BE(dport, 26);
  }
  return b;
}

/**
 * The packet facts IPVS acts on (struct ip_vs_iphdr plus transport ports and flags), as a
 * mutable object the caller fills and reuses: the hot path allocates nothing per packet.
 * Addresses are four host-order u32 words each (IPv4 in word 0), as IpAddr stores them.
 */
import { AF_INET, type Af, IpAddr } from './addr.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export class Flow {
  af: Af = AF_INET;
  protocol = 6;
  /** Netfilter mark of the packet (fwmark services), 0 if none. */
  fwmark = 0;
  s0 = 0; s1 = 0; s2 = 0; s3 = 0;
  sport = 0;
  d0 = 0; d1 = 0; d2 = 0; d3 = 0;
  dport = 0;
  /** TCP flag bits (TCP_SYN...), 0 for other protocols. */
  tcpFlags = 0;
  /** Bytes counted for this packet: the full IP length (skb->len). */
  len = 0;

  setSaddr(a: IpAddr): this {
    this.s0 = a.w0; this.s1 = a.w1; this.s2 = a.w2; this.s3 = a.w3;
    return this;
  }

  setDaddr(a: IpAddr): this {
    this.d0 = a.w0; this.d1 = a.w1; this.d2 = a.w2; this.d3 = a.w3;
    return this;
  }

  /** Allocates: for slow paths (templates, listings) only. */
  saddr(): IpAddr {
    return new IpAddr(this.af, this.s0, this.s1, this.s2, this.s3);
  }

  daddr(): IpAddr {
    return new IpAddr(this.af, this.d0, this.d1, this.d2, this.d3);
  }

  /** ip_vs_sh/mh address fold of the source: the IPv4 address or the XOR of the IPv6 words. */
  sfold(): number {
    return (this.s0 ^ this.s1 ^ this.s2 ^ this.s3) >>> 0;
  }

  dfold(): number {
    return (this.d0 ^ this.d1 ^ this.d2 ^ this.d3) >>> 0;
  }
}

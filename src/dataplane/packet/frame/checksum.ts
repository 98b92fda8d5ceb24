/**
 * Internet checksums on frame bytes, allocation-free: the full sum (RFC 1071), the incremental
 * update HC' = ~(~HC + ~m + m') of RFC 1624 (eqn. 3, which never yields -0 the way eqn. 2 can),
 * the same update for a field that holds a *partial* (pseudo-header only) checksum, and
 * completing a partial checksum handed over by veth (CHECKSUM_PARTIAL: the field holds the
 * folded, uncomplemented pseudo-header sum; the device is expected to sum from csum_start to the
 * end and store the complement). The kernel's counterparts are include/net/checksum.h
 * (csum_replace4, inet_proto_csum_replace4) and skb_checksum_help.
 * Sums are plain numbers: up to 2^53 stays exact, so a 64 KiB frame never needs mid-loop folds.
 */

/** Adds the 16-bit big-endian words of b[off, off+len) to `sum`; an odd last byte is padded. Reads only inside. */
export function csumAdd(b: Uint8Array, off: number, len: number, sum: number): number {
  let s = sum;
  let i = off;
  const end = off + len;
  const last = end - 1;
  for (; i < last; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

/** Folds a sum to 16 bits (end-around carry), not complemented. */
export function csumFold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum of b[off, off+len) plus `sum`, as it is stored: ~fold, 16 bits. */
export function csumFinish(b: Uint8Array, off: number, len: number, sum: number): number {
  return ~csumFold(csumAdd(b, off, len, sum)) & 0xffff;
}

/** Sum of the IPv4 pseudo header (RFC 793/768): addresses, protocol, L4 length. */
export function pseudoV4(saddr: number, daddr: number, proto: number, l4len: number): number {
  return (saddr >>> 16) + (saddr & 0xffff) + (daddr >>> 16) + (daddr & 0xffff) + proto + l4len;
}

/** Sum of the IPv6 pseudo header (RFC 8200 §8.1), addresses read from the IPv6 header at l3. */
export function pseudoV6(b: Uint8Array, l3: number, nexthdr: number, l4len: number): number {
  return csumAdd(b, l3 + 8, 32, 0) + Math.floor(l4len / 0x10000) + (l4len & 0xffff) + nexthdr;
}

/** RFC 1624 eqn. 3 for one 16-bit field of a full checksum: returns the new checksum. */
export function csumReplace16(check: number, oldv: number, newv: number): number {
  const s = (~check & 0xffff) + (~oldv & 0xffff) + (newv & 0xffff);
  return ~csumFold(s) & 0xffff;
}

/** RFC 1624 eqn. 3 for a 32-bit field (an IPv4 address). */
export function csumReplace32(check: number, oldv: number, newv: number): number {
  const s = (~check & 0xffff) + (~(oldv >>> 16) & 0xffff) + (~oldv & 0xffff) + (newv >>> 16) + (newv & 0xffff);
  return ~csumFold(s) & 0xffff;
}

/**
 * The same change for a field that holds a partial checksum (pseudo header only, not
 * complemented): inet_proto_csum_replace4 with CHECKSUM_PARTIAL. Only pseudo-header fields
 * (addresses, length) change it; ports do not, the device sums them later.
 */
export function csumReplacePartial32(partial: number, oldv: number, newv: number): number {
  const s = (partial & 0xffff) + (~(oldv >>> 16) & 0xffff) + (~oldv & 0xffff) + (newv >>> 16) + (newv & 0xffff);
  return csumFold(s);
}

export function csumReplacePartial16(partial: number, oldv: number, newv: number): number {
  return csumFold((partial & 0xffff) + (~oldv & 0xffff) + (newv & 0xffff));
}

export function rd16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function rd32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Completes a partial checksum in place (skb_checksum_help): sums b[start, end), which includes
 * the field at start+field holding the pseudo-header sum, and stores the complement there.
 * `udp` maps a result of 0 to 0xffff (RFC 768: 0 means "no checksum"). Returns false, changing
 * nothing, when the offsets do not fit in [start, end).
 */
export function completePartial(b: Uint8Array, start: number, field: number, end: number, udp: boolean): boolean {
  if (start < 0 || field < 0 || start + field + 2 > end || end > b.length) return false;
  let c = ~csumFold(csumAdd(b, start, end - start, 0)) & 0xffff;
  if (udp && c === 0) c = 0xffff;
  wr16(b, start + field, c);
  return true;
}

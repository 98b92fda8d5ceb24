/**
 * What the transmitters share: the frame buffer, the batch of frames to send (txMeta rows the
 * addon hands to sendmmsg), a scratch area for frames the dataplane builds itself (ARP,
 * ICMP errors), the interface facts, the neighbour table and the drop counters by reason.
 * One XmitEnv per socket; nothing here allocates per packet.
 */
import { ethSetAddrs } from '../frame/eth.js';
import { icmpBuildErrorV4, icmpBuildErrorV6 } from '../frame/icmp.js';
import { ipv4Daddr, ipv4Saddr } from '../frame/ipv4.js';
import type { Parsed } from '../frame/parse.js';
import { wr16 } from '../frame/checksum.js';
import { META_STRIDE } from '../native.js';
import type { NeighTable } from '../neigh.js';

/** Drop reasons, indexes into XmitEnv.drops; names as stats() reports them. */
export const DROP_NAMES = [
  'malformed', 'truncated', 'fragment', 'vlan', 'not-ours', 'no-dest', 'ipvs-drop', 'table-full', 'no-neigh',
  'ttl-exceeded', 'too-big', 'frag-needed', 'tx-full', 'gso-tunnel', 'bypass', 'icmp-no-conn', 'unsupported',
  'tx-error',
] as const;
export type DropName = typeof DROP_NAMES[number];
export const D_MALFORMED = 0;
export const D_TRUNCATED = 1;
export const D_FRAGMENT = 2;
export const D_VLAN = 3;
export const D_NOT_OURS = 4;
export const D_NO_DEST = 5;
export const D_IPVS_DROP = 6;
export const D_TABLE_FULL = 7;
export const D_NO_NEIGH = 8;
export const D_TTL = 9;
export const D_TOO_BIG = 10;
export const D_FRAG_NEEDED = 11;
export const D_TX_FULL = 12;
export const D_GSO_TUNNEL = 13;
export const D_BYPASS = 14;
export const D_ICMP_NO_CONN = 15;
export const D_UNSUPPORTED = 16;
export const D_TX_ERROR = 17;

/** Neighbour slots at or above this are IPv6 (XmitEnv.neigh6) slots. */
export const V6_SLOT_BASE = 1 << 24;

/** tx flags (native.ts F_*). */
export const TX_NEEDS_CSUM = 1;
export const TX_GSO = 16;

export class XmitEnv {
  readonly b: Uint8Array;
  readonly tx: Int32Array;
  readonly txCap: number;
  txN = 0;
  readonly scratchStart: number;
  readonly scratchEnd: number;
  scratchAt: number;
  /** Our MAC (6 bytes at 0). */
  readonly mac: Uint8Array;
  mtu: number;
  /** The director's own IPv4 address on the interface (ARP sender, TUN outer source, ICMP). */
  local4: number;
  /** Our IPv6 address on the link (16 bytes), or all zero. */
  readonly local6 = new Uint8Array(16);
  readonly neigh: NeighTable;
  /** IPv6 neighbours; their slots are passed around as V6_SLOT_BASE + slot. */
  neigh6: NeighTable | null = null;
  readonly drops = new Float64Array(DROP_NAMES.length);
  /** Forwarded frames by method: 0 masq, 1 (unused), 2 tunnel, 3 route; then 4 = out (NAT replies). */
  readonly forwarded = new Float64Array(5);
  /** ip_vs_tunnel_xmit: pmtu_disc=1 copies DF into the outer header and refuses to fragment. */
  pmtuDisc = true;
  ipId = 0;
  /**
   * Hands the queued rows to the kernel now (set by index.ts): used when a batch produces more
   * frames than a send takes (a GSO frame cut into segments) or fills the scratch area.
   */
  flusher: (() => void) | null = null;

  constructor(b: Uint8Array, tx: Int32Array, txCap: number, scratchStart: number, scratchEnd: number, mac: Uint8Array, mtu: number, neigh: NeighTable) {
    this.b = b;
    this.tx = tx;
    this.txCap = txCap;
    this.scratchStart = scratchStart;
    this.scratchEnd = scratchEnd;
    this.scratchAt = scratchStart;
    this.mac = mac;
    this.mtu = mtu;
    this.local4 = 0;
    this.neigh = neigh;
  }

  /** Starts a new batch: the previous one has been handed to the kernel. */
  resetBatch(): void {
    this.txN = 0;
    this.scratchAt = this.scratchStart;
  }

  /** Queues one frame; false (and a drop) when the batch is full. */
  push(off: number, len: number, flags: number, csumStart: number, csumOff: number, gso: number): boolean {
    if (this.txN === this.txCap) {
      // Rows are full: send them; frames in scratch stay where they are until the next alloc.
      if (this.flusher !== null) this.flusher();
      if (this.txN === this.txCap) {
        this.drops[D_TX_FULL]++;
        return false;
      }
    }
    const m = this.txN++ * META_STRIDE;
    const t = this.tx;
    t[m] = off;
    t[m + 1] = len;
    t[m + 2] = flags;
    t[m + 3] = 0;
    t[m + 4] = csumStart;
    t[m + 5] = csumOff;
    t[m + 6] = gso;
    t[m + 7] = 0;
    return true;
  }

  /**
   * Room for a frame of up to `size` bytes in scratch, or -1. Callers push what they allocated
   * before allocating again, so when scratch is full everything in it is queued: send it all
   * and start over.
   */
  alloc(size: number): number {
    let at = this.scratchAt;
    if (at + size > this.scratchEnd && this.flusher !== null) {
      this.flusher();
      this.scratchAt = at = this.scratchStart;
    }
    if (at + size > this.scratchEnd) return -1;
    this.scratchAt = at + ((size + 7) & ~7);
    return at;
  }

  /** Writes our MAC as source and the slot's MAC as destination. */
  setEthToNeigh(off: number, slot: number): void {
    if (slot >= V6_SLOT_BASE && this.neigh6 !== null) ethSetAddrs(this.b, off, this.neigh6.macs, (slot - V6_SLOT_BASE) * 6, this.mac, 0);
    else ethSetAddrs(this.b, off, this.neigh.macs, slot * 6, this.mac, 0);
  }

  /**
   * Sends an ICMP(v6) error about the packet p back where it came from (to the MAC it came
   * from), from address `from4` (IPv4; the kernel's icmp_send uses the local address the
   * packet was sent to) or from the packet's own destination (IPv6).
   */
  icmpError(p: Parsed, type: number, code: number, info: number, from4: number): boolean {
    const b = this.b;
    const room = p.af === 2 ? 576 + 14 : 1280 + 14;
    const o = this.alloc(room);
    if (o < 0) return false;
    // Ethernet: back to the sender.
    for (let i = 0; i < 6; i++) {
      b[o + i] = b[p.off + 6 + i];
      b[o + 6 + i] = this.mac[i];
    }
    let n: number;
    if (p.af === 2) {
      wr16(b, o + 12, 0x0800);
      n = icmpBuildErrorV4(b, o + 14, room - 14, p.l3, p.ipEnd, type, code, info, from4 || ipv4Daddr(b, p.l3), ipv4Saddr(b, p.l3), this.ipId++);
    } else {
      wr16(b, o + 12, 0x86dd);
      n = icmpBuildErrorV6(b, o + 14, room - 14, p.l3, p.ipEnd, type, code, info, p.l3 + 24, p.l3 + 8);
    }
    if (n === 0) return false;
    return this.push(o, 14 + n, 0, 0, 0, 0);
  }
}

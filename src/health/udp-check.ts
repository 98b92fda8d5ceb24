/**
 * UDP_CHECK (keepalived/check/check_udp.c, core/layer4.c udp_bind_connect/udp_socket_state):
 * send `payload` (or 32 random bytes) on a connected UDP socket and wait connect_timeout.
 * An ICMP unreachable (Linux reports it on the connected socket: ECONNREFUSED, EHOSTUNREACH...)
 * fails; silence succeeds unless require_reply; a reply must have a length within
 * min/max_reply_length and, when reply data was given, match it over the shorter of the two
 * lengths, X nibbles being wildcards.
 */
import { createSocket } from 'node:dgram';
import type { UdpCheck } from '../config/keepalived/types.js';
import { endpoint, type Probe, type ProbeContext, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

/** keepalived/core/layer4.c UDP_BUFSIZE. */
export const UDP_BUFSIZE = 32;

/** check_udp.c check_udp_reply: true when the reply is acceptable. */
export function udpReplyOk(c: Pick<UdpCheck, 'minReplyLength' | 'maxReplyLength' | 'replyData' | 'replyMask'>, reply: Uint8Array): boolean {
  if (reply.length < c.minReplyLength || reply.length > c.maxReplyLength) return false;
  if (!c.replyData) return true;
  const n = Math.min(reply.length, c.replyData.length);
  for (let i = 0; i < n; i++) {
    const care = c.replyMask ? ~c.replyMask[i] & 0xff : 0xff;
    if ((reply[i] ^ c.replyData[i]) & care) return false;
  }
  return true;
}

export function createUdpProbe(c: UdpCheck, ctx: ProbeContext): Probe {
  const d = c.connect.dest;
  return {
    kind: 'UDP_CHECK', target: endpoint(d.addr, d.port), usesSocket: true,
    run: (req) => udpProbe(c, c.payload ? Uint8Array.from(c.payload) : ctx.randomBytes(UDP_BUFSIZE), req),
  };
}

function udpProbe(c: UdpCheck, payload: Uint8Array, req: ProbeRequest): Promise<ProbeResult> {
  const d = c.connect.dest;
  const who = endpoint(d.addr, d.port);
  return new Promise((resolve) => {
    const sock = createSocket(d.af === 10 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      try { sock.close(); } catch { /* closed */ }
      resolve(stamp(req, r));
    };
    const onAbort = () => finish({ ok: false, detail: 'aborted' });
    req.signal.addEventListener('abort', onAbort);
    const timer = setTimeout(() => finish(c.requireReply
      ? { ok: false, detail: `UDP connection to ${who} failed: no reply` }
      : { ok: true, detail: `UDP connection to ${who} success (no ICMP error)` }), c.connect.connectTimeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: `UDP connection to ${who} failed (${e.code ?? e.message})` }));
    sock.on('message', (m: Buffer) => {
      if (!c.requireReply || udpReplyOk(c, m)) finish({ ok: true, detail: `UDP reply from ${who}` });
      else finish({ ok: false, detail: `UDP check to ${who} reply data mismatch` });
    });
    const send = () => sock.connect(d.port, d.addr, () => sock.send(payload, (e) => { if (e) finish({ ok: false, detail: `UDP send to ${who} failed (${(e as NodeJS.ErrnoException).code ?? e.message})` }); }));
    if (c.connect.bindto) sock.bind({ address: c.connect.bindto.addr, port: c.connect.bindto.port || 0 }, send);
    else send();
  });
}

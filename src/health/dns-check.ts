/**
 * DNS_CHECK (keepalived/check/check_dns.c): one UDP query (random 16-bit id, only RD set,
 * QDCOUNT 1, QNAME as labels, QTYPE, QCLASS IN) to the probed address and port; success is a
 * datagram with the same id, QR set and RCODE 0 (answers are not inspected). Datagrams shorter
 * than keepalived's check (sizeof a pointer: 8 bytes), with another id or with QR clear are
 * ignored and the wait goes on until connect_timeout; a non-zero RCODE fails at once.
 */
import { createSocket } from 'node:dgram';
import type { DnsCheck } from '../config/keepalived/types.js';
import { endpoint, type Probe, type ProbeContext, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

/** check_dns.c dns_make_query. */
export function dnsQuery(id: number, name: string, type: number): Buffer {
  const parts: number[] = [(id >> 8) & 255, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
  let s = 0;
  while (s < name.length) {
    let e = name.indexOf('.', s);
    if (e < 0) e = name.length;
    parts.push(e - s, ...Buffer.from(name.slice(s, e), 'latin1'));
    s = e < name.length ? e + 1 : e;
  }
  if (name !== '.') parts.push(0);
  parts.push((type >> 8) & 255, type & 255, 0, 1);
  return Buffer.from(parts);
}

export function createDnsProbe(c: DnsCheck, ctx: ProbeContext): Probe {
  const d = c.connect.dest;
  return {
    kind: 'DNS_CHECK',
    target: endpoint(d.addr, d.port),
    usesSocket: true,
    run: (req) => {
      const r = ctx.randomBytes(2);
      return dnsProbe(c, (r[0] << 8) | r[1], req);
    },
  };
}

function dnsProbe(c: DnsCheck, id: number, req: ProbeRequest): Promise<ProbeResult> {
  const d = c.connect.dest;
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
    const timer = setTimeout(() => finish({ ok: false, detail: 'read timeout from socket' }), c.connect.connectTimeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: `failed to read socket (${e.code ?? e.message})` }));
    sock.on('message', (m: Buffer) => {
      if (m.length < 8) return;
      if (m.readUInt16BE(0) !== id) return;
      const flags = m.readUInt16BE(2);
      if (!(flags & 0x8000)) return;
      const rcode = flags & 0x0f;
      if (rcode !== 0) finish({ ok: false, detail: `read error occurred. (rcode = ${rcode})` });
      else finish({ ok: true, detail: `answer from ${endpoint(d.addr, d.port)}` });
    });
    const query = dnsQuery(id, c.name, c.typeCode);
    const send = () => sock.connect(d.port, d.addr, () => sock.send(query, (e) => { if (e) finish({ ok: false, detail: 'failed to write socket.' }); }));
    if (c.connect.bindto) sock.bind({ address: c.connect.bindto.addr, port: c.connect.bindto.port || 0 }, send);
    else send();
  });
}

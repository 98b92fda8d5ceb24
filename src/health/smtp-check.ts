/**
 * SMTP_CHECK (keepalived/check/check_smtp.c smtp_engine_thread): connect, read the banner and
 * expect 220, send "HELO <helo_name>\r\n" and expect 250, send "QUIT\r\n" and read any reply.
 * A status is the first line of what one step read: exactly three digits followed by a space
 * or the end of the line (so a multi-line "220-..." banner fails, as in keepalived); whatever
 * follows the first newline of a read is dropped. Every step must finish within connect_timeout.
 */
import { Socket } from 'node:net';
import type { SmtpCheck } from '../config/keepalived/types.js';
import { endpoint, type Probe, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

/** check_smtp.c smtp_get_status: -1 when the line does not start with a bare 3-digit code. */
export function smtpStatus(line: string): number {
  const m = /^\s*[+-]?(\d+)(.?)/.exec(line);
  if (!m) return -1;
  const digitsStart = line.indexOf(m[1]);
  if (digitsStart + m[1].length !== 3 || (m[2] !== '' && m[2] !== ' ')) return -1;
  return Number(m[1]);
}

export function createSmtpProbe(c: SmtpCheck): Probe {
  const d = c.connect.dest;
  return { kind: 'SMTP_CHECK', target: endpoint(d.addr, d.port), usesSocket: true, run: (req) => smtpDialogue(c, req) };
}

function smtpDialogue(c: SmtpCheck, req: ProbeRequest): Promise<ProbeResult> {
  const d = c.connect.dest;
  const who = endpoint(d.addr, d.port);
  return new Promise((resolve) => {
    const sock = new Socket();
    let done = false;
    let buf = '';
    let step: 'connect' | 'banner' | 'helo' | 'quit' = 'connect';
    let timer = setTimeout(() => fail(`Timeout connecting server ${who}`), c.connect.connectTimeoutMs);
    const arm = (what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(`${what} server ${who}`), c.connect.connectTimeoutMs);
    };
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(stamp(req, r));
    };
    function fail(detail: string): void {
      finish({ ok: false, detail: `SMTP_CHECK ${detail}` });
    }
    const onAbort = () => finish({ ok: false, detail: 'aborted' });
    req.signal.addEventListener('abort', onAbort);
    sock.once('connect', () => {
      step = 'banner';
      arm('Read timeout from');
    });
    sock.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      if (step === 'banner') {
        if (smtpStatus(line) !== 220) return fail(`Bad greeting banner from server ${who}`);
        step = 'helo';
        arm('Read timeout from');
        sock.write(`HELO ${c.heloName}\r\n`);
      } else if (step === 'helo') {
        if (smtpStatus(line) !== 250) return fail(`Bad HELO response from server ${who}`);
        step = 'quit';
        arm('Read timeout from');
        sock.write('QUIT\r\n');
      } else if (step === 'quit') {
        finish({ ok: true, detail: `Remote SMTP server ${who} succeed` });
      }
    });
    sock.once('end', () => fail(`Read failure from server ${who}`));
    sock.once('error', (e: NodeJS.ErrnoException) => fail(`Error connecting server ${who} (${e.code ?? e.message})`));
    try {
      sock.connect({ host: d.addr, port: d.port, localAddress: c.connect.bindto?.addr, localPort: c.connect.bindto?.port || undefined });
    } catch (e) {
      fail(`Error connecting server ${who} (${(e as Error).message})`);
    }
  });
}

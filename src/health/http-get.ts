/**
 * HTTP_GET and SSL_GET (keepalived/check/check_http.c, lib/html.c): one URL per probe.
 *  - request bytes exactly as keepalived's request_template (User-Agent KeepAliveClient,
 *    "Connection: close" for 1.0C and 1.1, Host = the resolved virtualhost or "addr:port");
 *  - the response is read until the server closes the connection (keepalived does not stop at
 *    Content-Length either); every read must come within connect_timeout;
 *  - success: headers present, the status code (3 digits followed by a space, lib/html.c
 *    extract_status_code) in the accepted set, the MD5 of the body (capped at Content-Length)
 *    equal to `digest` when set, the regex matching (or not, regex_no_match) when set.
 * The digest is what keepalived's genhash prints (`keepalived -T -u URL ...`): see httpDigest.
 * Differences, said here once: regex uses JavaScript RegExp, not PCRE2 (options caseless,
 * multiline, dotall, ungreedy-free patterns map; regex_min/max_offset limit the searched body);
 * SSL_GET verifies nothing about the certificate unless `SSL { ca ... }` is given, like keepalived.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { HttpCheck, HttpUrl, KeepalivedConfig } from '../config/keepalived/types.js';
import { endpoint, type Probe, type ProbeRequest, type ProbeResult, stamp } from './checker.js';

/** keepalived's request_template / request_template_ipv6. */
export function httpRequestBytes(c: HttpCheck, url: HttpUrl): string {
  const minor = c.httpProtocol === '1.1' ? 1 : 0;
  const close = c.httpProtocol === '1.0C' || c.httpProtocol === '1.1' ? 'Connection: close\r\n' : '';
  return `GET ${url.path} HTTP/1.${minor}\r\nUser-Agent: KeepAliveClient\r\n${close}Host: ${url.host}\r\n\r\n`;
}

/** MD5 of a response body, lower-case hex: what `genhash` prints and `digest` compares. */
export function httpDigest(body: Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}

export interface ParsedResponse {
  readonly statusCode: number;
  readonly body: Buffer;
  readonly contentLength: number | null;
}

/** lib/html.c extract_html / extract_status_code / extract_content_length over the whole response. */
export function parseResponse(buf: Buffer): ParsedResponse | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  let statusCode = 0;
  const sp = head.search(/[ \r]/);
  if (sp >= 0 && head[sp] === ' ') {
    const code = head.slice(sp + 1, sp + 4);
    if (/^\d{3}$/.test(code) && head[sp + 4] === ' ') statusCode = Number(code);
  }
  let contentLength: number | null = null;
  const cl = head.indexOf('Content-Length:');
  if (cl >= 0) {
    const m = /^[ \t]*\+?(\d*)(.?)/.exec(head.slice(cl + 15));
    if (m && (m[2] === '' || m[2] === '\r' || m[2] === '\n')) contentLength = Number(m[1] || '0');
  }
  let body = buf.subarray(end + 4);
  if (contentLength !== null && body.length > contentLength) body = body.subarray(0, contentLength);
  return { statusCode, body, contentLength };
}

export function createHttpProbe(c: HttpCheck, config?: KeepalivedConfig): Probe {
  const d = c.connect.dest;
  let ca: Buffer | undefined;
  if (c.kind === 'SSL_GET' && config?.ssl?.ca) {
    try {
      ca = readFileSync(config.ssl.ca);
    } catch {
      ca = undefined;
    }
  }
  return {
    kind: c.kind,
    target: endpoint(d.addr, d.port),
    usesSocket: true,
    run: (req) => fetchUrl(c, c.urls[req.url] ?? c.urls[0], req, ca),
  };
}

function fetchUrl(c: HttpCheck, url: HttpUrl, req: ProbeRequest, ca: Buffer | undefined): Promise<ProbeResult> {
  const d = c.connect.dest;
  const timeoutMs = c.connect.connectTimeoutMs;
  return new Promise((resolve) => {
    let done = false;
    const chunks: Buffer[] = [];
    let sock: Socket | TLSSocket;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(stamp(req, r));
    };
    const fail = (what: string) => finish({ ok: false, detail: `${what} server ${endpoint(d.addr, d.port)} url ${url.path}` });
    let timer = setTimeout(() => fail('Timeout connect'), timeoutMs);
    const bump = (what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(what), timeoutMs);
    };
    const onAbort = () => finish({ ok: false, detail: 'aborted' });
    req.signal.addEventListener('abort', onAbort);
    const onOpen = () => {
      bump('Timeout HTTP read');
      sock.write(httpRequestBytes(c, url));
    };
    if (c.kind === 'SSL_GET') {
      const tlsOpts: ConnectionOptions = { host: d.addr, port: d.port, rejectUnauthorized: ca !== undefined };
      if (ca) tlsOpts.ca = ca;
      if (c.connect.bindto) (tlsOpts as ConnectionOptions & { localAddress?: string }).localAddress = c.connect.bindto.addr;
      // enable_sni sends the resolved virtualhost as SNI; without one, no SNI (check_ssl.c).
      if (c.enableSni && url.host !== endpoint(d.addr, d.port)) tlsOpts.servername = url.host;
      sock = tlsConnect(tlsOpts, onOpen);
    } else {
      sock = new Socket();
      sock.once('connect', onOpen);
    }
    sock.on('data', (b: Buffer) => {
      chunks.push(b);
      bump('Timeout HTTP read');
    });
    sock.once('end', () => {
      const r = parseResponse(Buffer.concat(chunks));
      if (!r) return fail('Read, no data received from');
      if (!url.statusCodes.includes(r.statusCode)) return finish({ ok: false, detail: `HTTP status code error to server ${endpoint(d.addr, d.port)} url ${url.path}: ${r.statusCode}` });
      if (url.digest !== null) {
        const got = httpDigest(r.body);
        if (got !== url.digest) return finish({ ok: false, detail: `MD5 digest error to server ${endpoint(d.addr, d.port)} url ${url.path}: ${got}` });
      }
      if (url.regex) {
        const matched = regexMatches(url.regex, r.body);
        if (matched === url.regex.noMatch) return fail('Regex match failed');
      }
      finish({ ok: true, detail: `HTTP status code ${r.statusCode} from ${endpoint(d.addr, d.port)} url ${url.path}` });
    });
    sock.once('error', (e: NodeJS.ErrnoException) => fail(`Error connecting (${e.code ?? e.message})`));
    if (!(sock instanceof Socket) || c.kind === 'SSL_GET') return;
    try {
      sock.connect({ host: d.addr, port: d.port, localAddress: c.connect.bindto?.addr, localPort: c.connect.bindto?.port || undefined });
    } catch (e) {
      fail(`Error connecting (${(e as Error).message})`);
    }
  });
}

function regexMatches(r: NonNullable<HttpUrl['regex']>, body: Buffer): boolean {
  let flags = '';
  if (r.options.includes('caseless')) flags += 'i';
  if (r.options.includes('multiline')) flags += 'm';
  if (r.options.includes('dotall')) flags += 's';
  if (r.options.includes('utf')) flags += 'u';
  let text = body.toString('latin1');
  if (r.maxOffset) text = text.slice(0, r.maxOffset - 1 + 1);
  try {
    const re = new RegExp(r.pattern, flags);
    const m = re.exec(text);
    return m !== null && m.index >= r.minOffset;
  } catch {
    return false;
  }
}

/**
 * The daemon's HTTP listener: /metrics for Prometheus, the dashboard (/, /assets/*) and its
 * JSON API (/api/*). A way in to the daemon with no logic of its own (STYLE rule 4): every fact
 * comes from a function the daemon passes in, and every change ends in the director's commit
 * queue through `exec`, like a tslvsadm command.
 *
 * Reading needs nothing; changing needs the daemon's token (`Authorization: Bearer TOKEN`):
 * --http-token, or the file <state-dir>/http-token created with mode 0600 at first start.
 * When the listener is on a loopback address, requests must name a loopback host, so a web
 * page elsewhere cannot read the table through DNS rebinding.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile, rename, stat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TslvsError, systemErrno } from '../errors.js';
import { APP_CSS, INDEX_HTML } from './dashboard/page.js';
import { formatMetrics, METRICS_CONTENT_TYPE, type MetricsFacts } from './metrics.js';
import type { CommandError, ConnWire, DestIdWire, DestWire, ServiceIdWire, TableCommand, TableSnapshot } from './protocol.js';

export interface HttpDeps {
  /** Everything /metrics shows, the table included, as it is now (not waiting for queued commits). */
  facts(): MetricsFacts;
  /** Up to `limit` connection entries (in the table's hash order) and how many there are. */
  conns(limit: number): { total: number; conns: ConnWire[] };
  /** Runs table commands through the director's queue, one result per command (null: done). */
  exec(cmds: TableCommand[]): Promise<(CommandError | null)[]>;
  /** The token that allows changes; null: every change is refused. */
  token: string | null;
  /** Where an operator finds the token, for the 403 hint ("the file ...", "--http-token"). */
  tokenHint: string;
  log?(line: string): void;
}

export interface HttpListener {
  readonly server: Server;
  /** Binds ADDR:PORT ([v6]:port allowed; port 0 picks one). Throws TslvsError TSLVS_ERR_HTTP_LISTEN. */
  listen(addr: string): Promise<{ host: string; port: number; url: string }>;
  close(): Promise<void>;
}

/** Most connection entries /api/conns returns at once. */
export const CONN_SAMPLE_MAX = 1000;
const BODY_MAX = 16 * 1024;
const INT_MAX = 2147483647;

interface ApiError {
  code: string;
  message: string;
  hint: string;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, e: ApiError): void {
  sendJson(res, status, { error: e });
}

function sendText(res: ServerResponse, status: number, type: string, body: string | Buffer, cache = 'no-cache'): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': cache,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
  });
  res.end(body);
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** The host part of a Host header: "[::1]:9180" → "::1", "localhost:9180" → "localhost". */
function hostOf(header: string | undefined): string {
  if (!header) return '';
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']') > 0 ? header.indexOf(']') : undefined).toLowerCase();
  const colon = header.lastIndexOf(':');
  return (colon > 0 && header.indexOf(':') === colon ? header.slice(0, colon) : header).toLowerCase();
}

function isLoopbackHost(h: string): boolean {
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Splits ADDR:PORT; [v6]:port for IPv6. */
export function splitHostPort(addr: string): { host: string; port: number } | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(addr) ?? /^([^:\s[\]]+):(\d{1,5})$/.exec(addr);
  if (!m) return null;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1], port } : null;
}

const assetCache = new Map<string, Buffer>();

async function asset(key: string, path: () => string): Promise<Buffer> {
  let b = assetCache.get(key);
  if (!b) {
    b = await readFile(path());
    assetCache.set(key, b);
  }
  return b;
}

const require = createRequire(import.meta.url);

/** The dashboard's files besides the page itself: its compiled script and uPlot from node_modules. */
const ASSETS: Record<string, { type: string; path: () => string }> = {
  '/assets/app.js': { type: 'text/javascript; charset=utf-8', path: () => new URL('./dashboard/app.js', import.meta.url).pathname },
  '/assets/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', path: () => require.resolve('uplot/dist/uPlot.iife.min.js') },
  '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', path: () => require.resolve('uplot/dist/uPlot.min.css') },
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_MAX) {
        reject(new Error(`request body larger than ${BODY_MAX} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function badRequest(message: string, hint: string): ApiError {
  return { code: 'TSLVS_ERR_HTTP_BAD_REQUEST', message, hint };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function svcText(s: ServiceIdWire): string {
  if (s.fwmark) return `FWM ${s.fwmark}`;
  const p = s.protocol === 6 ? 'TCP' : s.protocol === 17 ? 'UDP' : 'SCTP';
  return `${p} ${s.af === 10 ? `[${s.addr}]` : s.addr}:${s.port}`;
}

function destText(d: DestIdWire): string {
  return `${d.af === 10 ? `[${d.addr}]` : d.addr}:${d.port}`;
}

function sameService(a: ServiceIdWire, b: ServiceIdWire): boolean {
  if (a.fwmark || b.fwmark) return a.fwmark === b.fwmark && a.af === b.af;
  return a.af === b.af && a.protocol === b.protocol && a.addr === b.addr && a.port === b.port;
}

/** Finds the real server in the table, by the identity fields the page sent back. */
function findDest(t: TableSnapshot, svc: ServiceIdWire, dest: DestIdWire): { svc: ServiceIdWire; dest: DestWire } | null {
  const s = t.services.find((x) => sameService(x, svc));
  const d = s?.dests.find((x) => x.af === dest.af && x.addr === dest.addr && x.port === dest.port);
  if (!s || !d) return null;
  const w: DestWire = {
    af: d.af, addr: d.addr, port: d.port, fwd: d.fwd, weight: d.weight, uThreshold: d.uThreshold, lThreshold: d.lThreshold,
    tunType: d.tunType, tunPort: d.tunPort, tunFlags: d.tunFlags,
  };
  if (d.proxyProtocol) w.proxyProtocol = d.proxyProtocol;
  return { svc: { af: s.af, protocol: s.protocol, addr: s.addr, port: s.port, fwmark: s.fwmark }, dest: w };
}

export function createHttpServer(deps: HttpDeps): HttpListener {
  const log = deps.log ?? (() => undefined);
  let loopbackOnly = false;

  const authorized = (req: IncomingMessage): boolean => {
    if (deps.token === null) return false;
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m !== null && sameSecret(m[1], deps.token);
  };

  const forbidden = (res: ServerResponse): void => {
    sendError(res, 403, deps.token === null
      ? { code: 'TSLVS_ERR_HTTP_FORBIDDEN', message: 'Changing the table over HTTP is switched off: the daemon has no token', hint: deps.tokenHint }
      : { code: 'TSLVS_ERR_HTTP_FORBIDDEN', message: 'Changing the table over HTTP needs the daemon\'s token, and this request has none or a wrong one',
        hint: `send it as "Authorization: Bearer TOKEN" (the dashboard asks for it under "Unlock"); ${deps.tokenHint}` });
  };

  const setWeight = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!authorized(req)) return forbidden(res);
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return sendError(res, 415, badRequest('The request body must be JSON ("Content-Type: application/json")', 'send {"svc": {...}, "dest": {...}, "weight": N} as JSON'));
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      return sendError(res, 400, badRequest(`The request body is not valid JSON: ${(err as Error).message}`, 'send {"svc": {...}, "dest": {...}, "weight": N} as JSON'));
    }
    if (!isObj(body) || !isObj(body.svc) || !isObj(body.dest)) {
      return sendError(res, 400, badRequest('The request needs "svc" and "dest" objects', 'take both from /api/table: a service\'s af, protocol, addr, port, fwmark and a real server\'s af, addr, port'));
    }
    const weight = body.weight;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > INT_MAX) {
      return sendError(res, 400, badRequest(`Invalid weight "${String(weight)}"`, `give an integer from 0 (drain: no new connections) to ${INT_MAX}`));
    }
    const found = findDest(deps.facts().table, body.svc as unknown as ServiceIdWire, body.dest as unknown as DestIdWire);
    const what = `${destText(body.dest as unknown as DestIdWire)} of ${svcText(body.svc as unknown as ServiceIdWire)}`;
    if (!found) {
      return sendError(res, 404, { code: 'TSLVS_ERR_HTTP_BAD_REQUEST', message: `No real server ${what}`, hint: 'reload the page: the table changed' });
    }
    const [result] = await deps.exec([{ cmd: 'edit-dest', svc: found.svc, dest: { ...found.dest, weight } }]);
    if (result) {
      const message = result.message ?? `Setting the weight of ${what} failed: ${result.op} ${result.errno}`;
      return sendError(res, 409, { code: result.code ?? `errno ${result.errno}`, message, hint: result.hint ?? 'reload the page and try again' });
    }
    log(`http: weight of ${what} set to ${weight} (was ${found.dest.weight}) by ${req.socket.remoteAddress ?? '?'}`);
    sendJson(res, 200, { ok: true, weight, previous: found.dest.weight });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('x-content-type-options', 'nosniff');
    if (loopbackOnly && !isLoopbackHost(hostOf(req.headers.host))) {
      return sendError(res, 403, {
        code: 'TSLVS_ERR_HTTP_FORBIDDEN', message: `Host "${req.headers.host ?? ''}" is not a loopback name and this listener is on loopback`,
        hint: 'use http://127.0.0.1:PORT/ or http://localhost:PORT/; to serve other hosts, start tslvs run --http ADDR:PORT on their address',
      });
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/api/weight') {
      if (method !== 'POST') return sendError(res, 405, badRequest(`${method} is not allowed on ${path}`, 'use POST'));
      return setWeight(req, res);
    }
    if (!get) return sendError(res, 405, badRequest(`${method} is not allowed on ${path}`, 'use GET'));
    switch (path) {
      case '/metrics':
        return sendText(res, 200, METRICS_CONTENT_TYPE, formatMetrics(deps.facts()), 'no-store');
      case '/':
      case '/index.html':
        res.setHeader('content-security-policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        return sendText(res, 200, 'text/html; charset=utf-8', INDEX_HTML);
      case '/assets/app.css':
        return sendText(res, 200, 'text/css; charset=utf-8', APP_CSS);
      case '/api/table': {
        const f = deps.facts();
        return sendJson(res, 200, {
          time: Date.now(), table: f.table, writable: deps.token !== null,
          facts: { version: f.version, dataplane: f.dataplane.kind, connCount: f.connCount, connLimit: f.connLimit, changes: f.changes, activeFlows: f.dataplane.activeFlows, drops: f.dataplane.drops },
        });
      }
      case '/api/conns': {
        const raw = Number(url.searchParams.get('limit') ?? '50');
        const limit = Number.isInteger(raw) && raw >= 0 ? Math.min(raw, CONN_SAMPLE_MAX) : 50;
        return sendJson(res, 200, deps.conns(limit));
      }
      case '/api/auth':
        if (!authorized(req)) return forbidden(res);
        return sendJson(res, 200, { ok: true });
      default: {
        const a = ASSETS[path];
        if (!a) return sendError(res, 404, { code: 'TSLVS_ERR_HTTP_BAD_REQUEST', message: `Nothing at "${path}"`, hint: 'see / (dashboard), /metrics, /api/table, /api/conns' });
        try {
          return sendText(res, 200, a.type, await asset(path, a.path));
        } catch (err) {
          return sendError(res, 500, { code: 'TSLVS_ERR_HTTP_BAD_REQUEST', message: `Cannot read the dashboard file for "${path}" (${systemErrno(err) ?? (err as Error).message})`, hint: 'reinstall tslvs (npm ci builds dist/ and installs uplot)' });
        }
      }
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`http: ${req.method} ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) sendError(res, 500, { code: 'TSLVS_ERR_INTERNAL', message: `Internal error: ${(err as Error).message}`, hint: 'nothing was changed; please report this' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 15000;

  return {
    server,
    listen(addr: string) {
      const hp = splitHostPort(addr);
      if (!hp) {
        return Promise.reject(new TslvsError('TSLVS_ERR_BAD_OPTION', `Invalid value "${addr}" for --http`, 'expected ADDR:PORT, for example 127.0.0.1:9180 or [::1]:9180'));
      }
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => {
          const errno = systemErrno(err);
          const why = errno === 'EADDRINUSE' ? 'the address is in use' : errno === 'EACCES' ? 'permission denied' : errno === 'EADDRNOTAVAIL' ? 'no interface has that address' : err.message;
          reject(new TslvsError('TSLVS_ERR_HTTP_LISTEN', `Cannot listen for HTTP on "${addr}": ${why}${errno ? ` (${errno})` : ''}`,
            'choose another address with --http ADDR:PORT, or switch the listener off with --http off', { cause: err }));
        };
        server.once('error', onError);
        server.listen(hp.port, hp.host, () => {
          server.off('error', onError);
          const a = server.address() as AddressInfo;
          loopbackOnly = isLoopbackHost(a.address.toLowerCase());
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ host: a.address, port: a.port, url: `http://${host}:${a.port}/` });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The token that allows changes over HTTP: `given` (--http-token) if set; otherwise the content
 * of <stateDir>/http-token, created with 32 random bytes (base64url) and mode 0600 if missing.
 * Throws TslvsError TSLVS_ERR_HTTP_TOKEN when the file cannot be read or created, or is empty.
 */
export async function resolveHttpToken(stateDir: string, given: string | null): Promise<{ token: string; hint: string; warning: string | null }> {
  if (given !== null) return { token: given, hint: 'it is the value given to "tslvs run --http-token"', warning: null };
  const path = join(stateDir, 'http-token');
  const hint = `root (or the daemon's user) can read it from "${path}"`;
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (systemErrno(err) !== 'ENOENT') {
      throw new TslvsError('TSLVS_ERR_HTTP_TOKEN', `Cannot read the HTTP token file "${path}" (${systemErrno(err) ?? (err as Error).message})`,
        'fix its permissions, remove it to have a new one made, or give a token with --http-token', { cause: err });
    }
  }
  if (text === null) {
    const token = randomBytes(32).toString('base64url');
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new TslvsError('TSLVS_ERR_HTTP_TOKEN', `Cannot create the HTTP token file "${path}" (${systemErrno(err) ?? (err as Error).message})`,
        'make the state directory writable, or give a token with --http-token', { cause: err });
    }
    return { token, hint, warning: null };
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) {
    throw new TslvsError('TSLVS_ERR_HTTP_TOKEN', `The HTTP token file "${path}" is empty or holds more than one word`,
      'write one token (no spaces) into it, or remove it to have a new one made at the next start');
  }
  const mode = (await stat(path)).mode & 0o777;
  const warning = (mode & 0o077) !== 0
    ? `the HTTP token file "${path}" has mode ${mode.toString(8).padStart(4, '0')}: others may read it; chmod 600 it`
    : null;
  return { token, hint, warning };
}

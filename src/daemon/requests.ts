/**
 * Control requests to director calls: checks each request's shape, calls the one owner
 * (Director) or the lifecycle (reload, shutdown), and shapes the answer as src/control/protocol.ts
 * says. Kernel-style failures answer with {op, errno}; tslvs's own with code, message and hint.
 */
import { performance } from 'node:perf_hooks';
import { PROTOCOL_VERSION, type Request, type Response } from '../control/protocol.js';
import { IpvsError } from '../core/errors.js';
import { TslvsError } from '../errors.js';
import type { Director } from './director.js';

export interface RequestContext {
  director: Director;
  /** Re-reads the configuration and applies the difference; resolves to a one-line summary. */
  reload(): Promise<string>;
  /** Asks the daemon to stop once this answer is written. */
  shutdown(): void;
  /** Daemon facts for `status` (pid, paths, start time, ...). */
  facts(): Record<string, unknown>;
}

function protocolError(message: string, hint = 'send one request object as src/control/protocol.ts describes'): Response {
  return { type: 'error', error: { op: 'request', errno: 'EINVAL', code: 'TSLVS_ERR_PROTOCOL', message, hint } };
}

function tslvsErrorResponse(op: string, e: TslvsError): Response {
  return { type: 'error', error: { op, errno: e.errno ?? 'EINVAL', code: e.code, message: e.message, hint: e.hint } };
}

export async function handleRequest(ctx: RequestContext, raw: unknown): Promise<Response> {
  ctx.director.requestBegun();
  try {
    return await answer(ctx, raw);
  } finally {
    ctx.director.requestEnded(performance.now());
  }
}

async function answer(ctx: RequestContext, raw: unknown): Promise<Response> {
  if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string') {
    return protocolError('Request must be a JSON object with a "type"');
  }
  const req = raw as Request;
  switch (req.type) {
    case 'hello':
      if (req.version !== PROTOCOL_VERSION) {
        return protocolError(`Protocol version ${String(req.version)} is not ${PROTOCOL_VERSION}, the daemon's`,
          'use a tslvs CLI of the same version as the daemon');
      }
      return { type: 'hello', version: PROTOCOL_VERSION, pid: process.pid, dataplane: ctx.director.dataplane.kind };
    case 'exec': {
      const cmds = 'rows' in req ? req.rows : req.cmds;
      if (!Array.isArray(cmds)) return protocolError('"exec" needs a "cmds" (or "rows") array');
      const results = await ctx.director.exec(cmds);
      return { type: 'exec', results };
    }
    case 'get-table':
      try {
        if (req.rows === true) return { type: 'table-rows', table: await ctx.director.snapshotRows(req.svc, req.stats === true) };
        return { type: 'table', table: await ctx.director.snapshot(req.svc) };
      } catch (err) {
        if (err instanceof IpvsError) return { type: 'error', error: { op: err.op, errno: err.errno } };
        throw err;
      }
    case 'get-conns':
      return { type: 'conns', conns: ctx.director.conns(performance.now()) };
    case 'status':
      return { type: 'status', status: { ...ctx.facts(), ...ctx.director.status(), dataplaneStats: ctx.director.dataplane.stats() } };
    case 'reload':
      try {
        return { type: 'ok', message: await ctx.reload() };
      } catch (err) {
        if (err instanceof TslvsError) return tslvsErrorResponse('reload', err);
        throw err;
      }
    case 'shutdown':
      ctx.shutdown();
      return { type: 'ok' };
    default:
      return protocolError(`Unknown request type "${String((req as { type: unknown }).type)}"`);
  }
}

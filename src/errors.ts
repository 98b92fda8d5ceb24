/**
 * The one catalogue of tslvs error codes (STYLE rules 5 and 6), in the manner of undici's
 * UND_ERR_* and fastify's FST_ERR_*. Kernel-visible failures stay IpvsError (src/core/errors.ts,
 * an errno); everything tslvs itself refuses is a TslvsError: a stable code, a one-line message
 * naming the value, and a hint saying what to do next. docs/errors.md lists every code with
 * "How to solve"; test/errors.test.ts keeps the two in step with the codes src actually uses.
 * This module imports nothing, so every layer but the pure core may use it.
 */

/** Code → what it means (docs/errors.md gives the fix). Add a code here and there together. */
export const ERROR_CODES = {
  TSLVS_ERR_BAD_OPTION: 'an unknown command-line option or a bad option value',
  TSLVS_ERR_NO_DAEMON: 'no tslvs daemon is listening on the control socket',
  TSLVS_ERR_DAEMON_RUNNING: 'another tslvs daemon already owns the control socket',
  TSLVS_ERR_SOCKET_IN_USE: 'the control socket path is taken by something that is not a stale socket',
  TSLVS_ERR_SOCKET_ACCESS: 'permission denied on the control socket or its directory',
  TSLVS_ERR_PROTOCOL: 'a malformed control request or response',
  TSLVS_ERR_STATE_DIR: 'the state directory cannot be created or written',
  TSLVS_ERR_STATE_SAVE: 'the table could not be saved; the change was undone',
  TSLVS_ERR_STATE_CORRUPT: 'the saved state file is unreadable; it was kept aside and the daemon started empty',
  TSLVS_ERR_RESTORE_FAILED: 'the dataplane refused the saved table at start-up',
  TSLVS_ERR_DATAPLANE_UNAVAILABLE: 'the chosen dataplane is not part of this build',
  TSLVS_ERR_DATAPLANE_REFUSED: 'the dataplane could not apply a change; the change was undone',
  TSLVS_ERR_RULES_READ: 'the rules file given with --rules cannot be read',
  TSLVS_ERR_RULES_SYNTAX: 'a line of the rules file is not in ipvsadm save format',
  TSLVS_ERR_RULES_REJECTED: 'the rules file parses but the table refuses it',
  TSLVS_ERR_KEEPALIVED_CONFIG: 'the keepalived.conf given with -f is refused (an error keepalived reports) or clashes with --rules',
  TSLVS_ERR_HTTP_LISTEN: 'the HTTP listener (--http) cannot bind its address',
  TSLVS_ERR_HTTP_TOKEN: 'the HTTP token file cannot be read or created, or holds no token',
  TSLVS_ERR_HTTP_FORBIDDEN: 'an HTTP request to change the table came without the right token, or named a foreign host',
  TSLVS_ERR_HTTP_BAD_REQUEST: 'an HTTP API request was malformed or named something that does not exist',
  TSLVS_ERR_DEMO: 'tslvs demo (npm start) could not set up its real servers, director or VIP',
  TSLVS_ERR_HOST_PERMISSION: 'changing an address, route or kernel parameter of the host was refused (not root, read-only /proc/sys)',
  TSLVS_ERR_HOST_INTERFACE: 'a network interface named for the host set-up does not exist or is down',
  TSLVS_ERR_HOST_COMMAND: 'an ip command or kernel parameter write of the host set-up failed',
  TSLVS_ERR_HOST_CONFLICT: 'an address on the host contradicts the director or real-server set-up',
  TSLVS_ERR_HOST_STATE: 'the state file of tslvs director / realserver cannot be read or written',
  TSLVS_ERR_DAEMON_START: 'the daemon started by tslvs director start exited or did not answer',
  TSLVS_ERR_INTERNAL: 'a bug in tslvs; the command changed nothing',
} as const;

export type TslvsErrorCode = keyof typeof ERROR_CODES;

export class TslvsError extends Error {
  readonly code: TslvsErrorCode;
  /** What to do next: one clause, no final period. */
  readonly hint: string;
  /** The system error name when one caused this (EACCES, EADDRINUSE, ...). */
  readonly errno: string | undefined;

  constructor(code: TslvsErrorCode, message: string, hint: string, opts?: { cause?: unknown; errno?: string }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TslvsError';
    this.code = code;
    this.hint = hint;
    this.errno = opts?.errno ?? systemErrno(opts?.cause);
  }
}

export function isTslvsError(e: unknown): e is TslvsError {
  return e instanceof TslvsError;
}

/** The `code` of a Node.js system error (EACCES, ENOENT, ...), if `e` is one. */
export function systemErrno(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' && /^E[A-Z0-9]+$/.test(c) ? c : undefined;
}

/**
 * The one line a CLI prints for an error: message, the fix, and the code to look up in
 * docs/errors.md. Errors that are not TslvsError print their message only.
 */
export function formatError(e: unknown, prog = 'tslvs'): string {
  if (e instanceof TslvsError) return `${prog}: ${e.message}; ${e.hint} (${e.code})`;
  const c = e as { code?: unknown; hint?: unknown; message?: unknown } | null;
  if (c && typeof c.code === 'string' && c.code.startsWith('TSLVS_ERR_') && typeof c.hint === 'string') {
    return `${prog}: ${String(c.message)}; ${c.hint} (${c.code})`;
  }
  return `${prog}: ${e instanceof Error ? e.message : String(e)}`;
}

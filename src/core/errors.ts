/**
 * Errors of the control operations, as errno values the way ip_vs_ctl.c returns them.
 * Wording belongs to the edges: src/cli/tslvsadm/messages.ts maps (op, errno) to ipvsadm's text
 * exactly as libipvs.c ipvs_strerror does.
 */

/** The libipvs function a failure is attributed to (ipvs_strerror keys on it). */
export type IpvsOp =
  | 'add-service' | 'edit-service' | 'del-service' | 'zero-service' | 'flush'
  | 'add-dest' | 'edit-dest' | 'del-dest' | 'zero' | 'set-timeout'
  | 'start-daemon' | 'stop-daemon' | 'get-service';

export type Errno =
  | 'EEXIST' | 'ESRCH' | 'ENOENT' | 'EINVAL' | 'ERANGE' | 'EPERM' | 'ENODEV'
  | 'ENOPROTOOPT' | 'ENOMEM' | 'EOPNOTSUPP' | 'EAFNOSUPPORT' | 'EMSGSIZE' | 'EBUSY';

export class IpvsError extends Error {
  readonly op: IpvsOp;
  readonly errno: Errno;
  constructor(op: IpvsOp, errno: Errno, detail: string) {
    super(`${op}: ${errno}: ${detail}`);
    this.name = 'IpvsError';
    this.op = op;
    this.errno = errno;
  }
}

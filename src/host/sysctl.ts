/**
 * Kernel parameters under /proc/sys, read and written as files (what sysctl(8) does; the seed's
 * `echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore`). A key is written as sysctl(8) prints it:
 * dots between the parts, and a dot inside a part (an interface such as "eth0.100") written as
 * a slash — `net.ipv4.conf.eth0/100.arp_ignore` is /proc/sys/net/ipv4/conf/eth0.100/arp_ignore.
 *
 * The files belong to the network namespace of the process that opens them, so a command run
 * with `ip netns exec NS` reads and writes that namespace's values.
 *
 * Failures are TslvsErrors naming the key and what to do: no permission (EACCES, EPERM, EROFS:
 * a user, or a read-only /proc/sys in a container) → TSLVS_ERR_HOST_PERMISSION; a key that does
 * not exist (ENOENT: usually an interface that is not there) → TSLVS_ERR_HOST_INTERFACE for
 * per-interface keys, TSLVS_ERR_HOST_COMMAND otherwise.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemErrno, TslvsError } from '../errors.js';

export const PROC_SYS = '/proc/sys';

/** Reads and writes kernel parameters; `root` is /proc/sys (tests give a directory of their own). */
export class Sysctl {
  readonly root: string;

  constructor(root = PROC_SYS) {
    this.root = root;
  }

  /** The file of a key (see the module comment for the spelling). */
  path(key: string): string {
    return join(this.root, ...keyParts(key));
  }

  /** The value as the kernel prints it, without the final newline (tabs between vector items). */
  async get(key: string): Promise<string> {
    try {
      return (await readFile(this.path(key), 'utf8')).replace(/\n$/, '');
    } catch (err) {
      throw sysctlError('read', key, err);
    }
  }

  /** Like get, but null when the key does not exist (an interface that is gone). */
  async getIfExists(key: string): Promise<string | null> {
    try {
      return await this.get(key);
    } catch (err) {
      if (err instanceof TslvsError && err.errno === 'ENOENT') return null;
      throw err;
    }
  }

  async set(key: string, value: string): Promise<void> {
    try {
      // One write, as `echo` does: the kernel parses the whole buffer at once.
      await writeFile(this.path(key), `${value}\n`, { flag: 'r+' });
    } catch (err) {
      throw sysctlError('write', key, err, value);
    }
  }
}

/** "net.ipv4.conf.eth0/100.arp_ignore" → ["net", "ipv4", "conf", "eth0.100", "arp_ignore"]. */
export function keyParts(key: string): string[] {
  const parts = key.split('.').map((p) => p.replace(/\//g, '.'));
  if (key === '' || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Bad kernel parameter name "${key}"`, 'write it as sysctl(8) does, for example net.ipv4.conf.all.arp_ignore');
  }
  return parts;
}

/** The key of a per-interface IPv4 or IPv6 parameter: confKey(4, 'eth0.100', 'arp_ignore'). */
export function confKey(family: 4 | 6, ifname: string, name: string): string {
  return `net.ipv${family}.conf.${ifname.replace(/\./g, '/')}.${name}`;
}

/** The interface a per-interface key is about, or null ("all" and "default" are not interfaces). */
export function interfaceOf(key: string): string | null {
  const p = keyParts(key);
  if (p.length === 5 && p[0] === 'net' && (p[1] === 'ipv4' || p[1] === 'ipv6') && p[2] === 'conf' && p[3] !== 'all' && p[3] !== 'default') return p[3];
  return null;
}

function sysctlError(op: 'read' | 'write', key: string, err: unknown, value?: string): TslvsError {
  const errno = systemErrno(err);
  const what = op === 'read' ? `Cannot read kernel parameter "${key}"` : `Cannot set kernel parameter "${key}" to "${value}"`;
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
    return new TslvsError('TSLVS_ERR_HOST_PERMISSION', `${what}: permission denied (${errno})`,
      errno === 'EROFS' ? '/proc/sys is read-only here (a container?): run on the host, or in a namespace with its own writable /proc/sys'
        : 'run as root (or with CAP_NET_ADMIN)', { cause: err });
  }
  if (errno === 'ENOENT') {
    const ifname = interfaceOf(key);
    if (ifname !== null) {
      return new TslvsError('TSLVS_ERR_HOST_INTERFACE', `${what}: no interface "${ifname}" (ENOENT)`,
        'name an existing interface ("ip link" lists them)', { cause: err });
    }
    return new TslvsError('TSLVS_ERR_HOST_COMMAND', `${what}: this kernel has no such parameter (ENOENT)`,
      'check the name with "sysctl -a"', { cause: err });
  }
  return new TslvsError('TSLVS_ERR_HOST_COMMAND', `${what}${errno ? ` (${errno})` : `: ${(err as Error).message}`}`,
    errno === 'EINVAL' ? 'the kernel refused the value; check it against the kernel\'s ip-sysctl documentation' : 'check the kernel log ("dmesg") for the reason', { cause: err });
}

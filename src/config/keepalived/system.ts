/**
 * What keepalived asks the host while it checks a configuration: user and group names
 * (lib/notify.c set_uid_gid via getpwnam/getgrnam), the script files themselves
 * (lib/notify.c check_script_secure: PATH search, realpath, stat, permissions) and the network
 * interfaces (vrrp `interface`). Behind an interface so tests can give a fixed host.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';

export interface HostFacts {
  user(name: string): { uid: number; gid: number } | null;
  group(name: string): number | null;
  /** stat of a path (following links), or null. */
  stat(path: string): { uid: number; gid: number; mode: number; isFile: boolean; isDir: boolean } | null;
  realpath(path: string): string | null;
  /** Interface names, or null when unknown (then interface checks are skipped). */
  interfaces(): readonly string[] | null;
  /** PATH used for a bare script name. */
  readonly path: string;
}

function parseColonFile(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

export function systemHost(): HostFacts {
  let passwd: string[][] | null = null;
  let groups: string[][] | null = null;
  return {
    user(name) {
      passwd ??= parseColonFile('/etc/passwd');
      const e = passwd.find((p) => p[0] === name);
      return e ? { uid: Number(e[2]), gid: Number(e[3]) } : null;
    },
    group(name) {
      groups ??= parseColonFile('/etc/group');
      const e = groups.find((g) => g[0] === name);
      return e ? Number(e[2]) : null;
    },
    stat(path) {
      try {
        const s = statSync(path);
        return { uid: s.uid, gid: s.gid, mode: s.mode, isFile: s.isFile(), isDir: s.isDirectory() };
      } catch {
        return null;
      }
    },
    realpath(path) {
      try {
        return realpathSync(path);
      } catch {
        return null;
      }
    },
    interfaces() {
      try {
        return readdirSync('/sys/class/net');
      } catch {
        return null;
      }
    },
    path: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
}

/** lib/notify.h SC_* flags. */
export const SC_INSECURE = 0x01;
export const SC_ISSCRIPT = 0x02;
export const SC_INHIBIT = 0x04;
export const SC_NOTFOUND = 0x08;
export const SC_EXECUTABLE = 0x10;
export const SC_SYSTEM = 0x40;

function isExecutable(st: { uid: number; gid: number; mode: number }, uid: number, gid: number): boolean {
  if (uid === 0) return (st.mode & 0o111) !== 0;
  if (st.uid === uid) return (st.mode & 0o100) !== 0;
  if (st.gid === gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * lib/notify.c check_script_secure (without libmagic): the SC_* flags of one script run as
 * uid:gid. `resolved` is the path keepalived would execute.
 */
export function scriptSecurity(host: HostFacts, argv0: string, uid: number, gid: number, scriptSecurityOn: boolean): { flags: number; resolved: string | null } {
  if (argv0[0] === '<' && argv0[argv0.slice(1).search(/[^ \t]|$/) + 1] === '/') return { flags: SC_SYSTEM, resolved: null };
  let path = argv0;
  if (!argv0.includes('/')) {
    let found: string | null = null;
    for (const dir of host.path.split(':')) {
      const p = `${dir || '.'}/${argv0}`;
      const st = host.stat(p);
      if (st && st.isFile && isExecutable(st, uid, gid)) { found = p; break; }
    }
    if (!found) return { flags: SC_NOTFOUND, resolved: null };
    path = found;
  }
  const real = host.realpath(path);
  if (!real) return { flags: SC_NOTFOUND, resolved: null };
  const st = host.stat(real);
  if (!st) return { flags: SC_NOTFOUND, resolved: null };
  let flags = SC_ISSCRIPT;
  let protect = false;
  if (isExecutable(st, uid, gid)) {
    flags |= SC_EXECUTABLE;
    if (uid === 0 || gid === 0 || (st.uid === 0 && (st.mode & 0o4100) === 0o4100) || (st.gid === 0 && (st.mode & 0o2010) === 0o2010)) protect = true;
  }
  if (!protect) return { flags, resolved: real };
  flags |= pathSecurity(host, path, scriptSecurityOn);
  if (real !== path) flags |= pathSecurity(host, real, scriptSecurityOn);
  return { flags, resolved: real };
}

/** lib/notify.c check_security: every element of the path must be root-owned and not writable by others. */
function pathSecurity(host: HostFacts, filename: string, on: boolean): number {
  const parts = filename.split('/');
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    cur = i === 0 ? (parts[0] === '' ? '/' : parts[0]) : cur === '/' ? `/${parts[i]}` : `${cur}/${parts[i]}`;
    if (i === 0 && parts[0] === '') continue;
    const st = host.stat(cur);
    if (!st) return SC_NOTFOUND;
    if ((!last && !st.isDir) || (last && !st.isFile)) return SC_INHIBIT;
    const stickyDir = st.isDir && (st.mode & 0o1000) !== 0;
    if (st.uid !== 0 || (((st.isDir && !stickyDir) || st.isFile) && ((st.gid !== 0 && (st.mode & 0o020)) || (st.mode & 0o002)))) {
      return SC_INSECURE | (on ? SC_INHIBIT : 0);
    }
  }
  return 0;
}


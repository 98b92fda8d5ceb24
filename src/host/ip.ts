/**
 * iproute2 run as a child process: the `ip` commands that replace the seed's ifconfig and route
 * (`ip addr add VIP/32 dev lo` for `ifconfig lo:0 VIP netmask 255.255.255.255 up`,
 * `ip route add`/`del` for `route add -host`). Reading uses `ip -j` (JSON), so nothing depends
 * on the layout of iproute2's text output.
 *
 * Why a child process and not netlink from here: the commands are few and only run at start
 * and stop, iproute2 is what an administrator would type (every command is logged in that
 * form), and its messages already name the reason. The runner is an argument, so the command
 * lines and the mapping of failures are tested without root.
 *
 * Failures become TslvsErrors (classifyIpFailure): permission → TSLVS_ERR_HOST_PERMISSION,
 * a missing interface → TSLVS_ERR_HOST_INTERFACE, anything else → TSLVS_ERR_HOST_COMMAND with
 * iproute2's own words and the command line. The errno is kept, so callers can treat "already
 * there" (EEXIST) and "already gone" (EADDRNOTAVAIL, ESRCH) as done.
 */
import { execFile } from 'node:child_process';
import { systemErrno, TslvsError } from '../errors.js';

export interface IpOutput {
  stdout: string;
  stderr: string;
}

/** Runs `ip ARGS`: resolves with its output, rejects with { code (exit status or errno), stderr }. */
export type IpRunner = (args: readonly string[]) => Promise<IpOutput>;

export interface IpFailure {
  /** Exit status of ip, or the spawn errno ("ENOENT": no ip binary). */
  code: number | string;
  stderr: string;
}

/** The real runner: `ip` from PATH (or `bin`), no shell, output as text. */
export function execIp(bin = 'ip'): IpRunner {
  return (args) => new Promise<IpOutput>((resolve, reject) => {
    execFile(bin, [...args], { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) {
        resolve({ stdout, stderr });
        return;
      }
      const e = err as { code?: number | string };
      const failure: IpFailure = { code: typeof e.code === 'number' ? e.code : systemErrno(err) ?? String(e.code ?? 'unknown'), stderr: String(stderr ?? '') };
      reject(failure);
    });
  });
}

export type Family = 4 | 6;

export interface LinkInfo {
  name: string;
  index: number;
  /** Administratively up (the UP flag). */
  up: boolean;
  loopback: boolean;
}

export interface AddrInfo {
  dev: string;
  family: Family;
  addr: string;
  prefixLen: number;
}

/** A route as tslvs adds and removes them: enough to name it exactly for `ip route del`. */
export interface RouteSpec {
  family: Family;
  /** "default" or "ADDR/LEN". */
  dst: string;
  /** unicast (the default) or blackhole. */
  type?: 'unicast' | 'blackhole';
  via?: string;
  dev?: string;
  metric?: number;
}

/** The `ip` arguments naming a route (after `ip -4|-6 route add|del`). */
export function routeArgs(r: RouteSpec): string[] {
  const out: string[] = [];
  if (r.type === 'blackhole') out.push('blackhole');
  out.push(r.dst);
  if (r.via !== undefined) out.push('via', r.via);
  if (r.dev !== undefined) out.push('dev', r.dev);
  if (r.metric !== undefined) out.push('metric', String(r.metric));
  return out;
}

/** How an administrator would type it: "ip -6 route add blackhole 2001:db8::10/128". */
export function routeText(verb: 'add' | 'del', r: RouteSpec): string {
  return ['ip', `-${r.family}`, 'route', verb, ...routeArgs(r)].join(' ');
}

export function addrText(verb: 'add' | 'del', a: AddrInfo): string {
  return `ip addr ${verb} ${a.addr}/${a.prefixLen} dev ${a.dev}`;
}

/** The errno an iproute2 message stands for (its extack text or strerror), or undefined. */
export function ipErrno(stderr: string): string | undefined {
  const s = stderr;
  if (/Operation not permitted|Permission denied|setting the network namespace .* failed/i.test(s)) return 'EPERM';
  if (/Cannot find device|Device "[^"]*" does not exist|No such device/i.test(s)) return 'ENODEV';
  if (/File exists|already assigned|Address already/i.test(s)) return 'EEXIST';
  if (/Cannot assign requested address|Address not found/i.test(s)) return 'EADDRNOTAVAIL';
  if (/No such process/i.test(s)) return 'ESRCH';
  if (/Network is unreachable|Nexthop has invalid gateway/i.test(s)) return 'ENETUNREACH';
  if (/Invalid argument|is expected rather than|invalid|Error: /i.test(s)) return 'EINVAL';
  return undefined;
}

/** The device a command line names (`dev X`), for messages. */
function devOf(args: readonly string[]): string | undefined {
  const i = args.indexOf('dev');
  return i >= 0 ? args[i + 1] : undefined;
}

/** A failed ip command in words: what failed, iproute2's reason, what to do next. */
export function classifyIpFailure(args: readonly string[], f: IpFailure): TslvsError {
  const cmd = ['ip', ...args].join(' ');
  if (f.code === 'ENOENT') {
    return new TslvsError('TSLVS_ERR_HOST_COMMAND', `Cannot run "${cmd}": no "ip" command (ENOENT)`,
      'install iproute2 (apt-get install iproute2, dnf install iproute)', { errno: 'ENOENT' });
  }
  const reason = f.stderr.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? `exit status ${f.code}`;
  const errno = ipErrno(f.stderr);
  const text = `"${cmd}" failed: ${reason}`;
  if (errno === 'EPERM') {
    return new TslvsError('TSLVS_ERR_HOST_PERMISSION', `${text} (EPERM)`, 'run as root (or with CAP_NET_ADMIN)', { errno });
  }
  if (errno === 'ENODEV') {
    const dev = devOf(args);
    return new TslvsError('TSLVS_ERR_HOST_INTERFACE', `${text} (ENODEV)`,
      `${dev ? `"${dev}" is not an interface here; ` : ''}name an existing interface ("ip link" lists them)`, { errno });
  }
  const hint = errno === 'ENETUNREACH' ? 'the gateway must be on a directly connected network of this host ("ip route" shows them)'
    : errno === 'EEXIST' ? 'it is there already: remove it first, or leave it'
      : errno === 'EINVAL' ? 'check the address and prefix length'
        : 'read iproute2\'s reason above and correct the cause';
  return new TslvsError('TSLVS_ERR_HOST_COMMAND', `${text}${errno ? ` (${errno})` : ''}`, hint, errno ? { errno } : {});
}

interface JsonLink { ifname: string; ifindex: number; flags?: string[]; link_type?: string }
interface JsonAddr { ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }
interface JsonRoute { type?: string; dst: string; gateway?: string; dev?: string; metric?: number }

/** The iproute2 commands tslvs needs, over a runner. */
export class Ip {
  readonly #run: IpRunner;

  constructor(run: IpRunner = execIp()) {
    this.#run = run;
  }

  /** Runs `ip ARGS`; failures as TslvsError (classifyIpFailure). */
  async exec(args: readonly string[]): Promise<string> {
    try {
      return (await this.#run(args)).stdout;
    } catch (err) {
      if (err instanceof TslvsError) throw err;
      const f = err as Partial<IpFailure>;
      throw classifyIpFailure(args, { code: f.code ?? 'unknown', stderr: f.stderr ?? String((err as Error)?.message ?? err) });
    }
  }

  async #json<T>(args: readonly string[]): Promise<T[]> {
    const out = (await this.exec(['-j', ...args])).trim();
    if (out === '') return [];
    try {
      return JSON.parse(out) as T[];
    } catch {
      throw new TslvsError('TSLVS_ERR_HOST_COMMAND', `"ip -j ${args.join(' ')}" printed something that is not JSON`,
        'install iproute2 4.14 or newer (it has -j)');
    }
  }

  async links(): Promise<LinkInfo[]> {
    const rows = await this.#json<JsonLink>(['link', 'show']);
    return rows.map((l) => ({
      name: l.ifname, index: l.ifindex, up: (l.flags ?? []).includes('UP'),
      loopback: (l.flags ?? []).includes('LOOPBACK') || l.link_type === 'loopback',
    }));
  }

  /** The interface, or null when there is none of that name. */
  async link(name: string): Promise<LinkInfo | null> {
    try {
      const rows = await this.#json<JsonLink>(['link', 'show', 'dev', name]);
      const l = rows[0];
      return l ? { name: l.ifname, index: l.ifindex, up: (l.flags ?? []).includes('UP'), loopback: (l.flags ?? []).includes('LOOPBACK') } : null;
    } catch (err) {
      if (err instanceof TslvsError && err.errno === 'ENODEV') return null;
      throw err;
    }
  }

  /** Every IPv4 and IPv6 address (of one interface when `dev` is given). */
  async addrs(dev?: string): Promise<AddrInfo[]> {
    const rows = await this.#json<JsonAddr>(dev === undefined ? ['addr', 'show'] : ['addr', 'show', 'dev', dev]);
    const out: AddrInfo[] = [];
    for (const r of rows) {
      for (const a of r.addr_info ?? []) {
        if (a.family !== 'inet' && a.family !== 'inet6') continue;
        out.push({ dev: r.ifname, family: a.family === 'inet' ? 4 : 6, addr: a.local, prefixLen: a.prefixlen });
      }
    }
    return out;
  }

  async addrAdd(a: AddrInfo): Promise<void> {
    // nodad: a VIP is shared on purpose; duplicate address detection would mark it tentative
    // (and unusable) on a real server whose neighbours also hold it.
    await this.exec(['addr', 'add', `${a.addr}/${a.prefixLen}`, 'dev', a.dev, ...(a.family === 6 ? ['nodad'] : [])]);
  }

  async addrDel(a: AddrInfo): Promise<void> {
    await this.exec(['addr', 'del', `${a.addr}/${a.prefixLen}`, 'dev', a.dev]);
  }

  /** Routes of the main table (default routes when `dst` is "default"). */
  async routes(family: Family, filter: { dst?: string; type?: 'blackhole' } = {}): Promise<RouteSpec[]> {
    const args = [`-${family}`, 'route', 'show'];
    if (filter.type) args.push('type', filter.type);
    if (filter.dst) args.push(filter.dst);
    const rows = await this.#json<JsonRoute>(args);
    return rows.map((r) => {
      const spec: RouteSpec = { family, dst: normalizeDst(family, r.dst) };
      if (r.type === 'blackhole') spec.type = 'blackhole';
      if (r.gateway !== undefined) spec.via = r.gateway;
      if (r.dev !== undefined && r.type !== 'blackhole') spec.dev = r.dev;
      // The default metric (0 for IPv4, 1024 for IPv6) is left out, as `ip route add` would.
      if (r.metric !== undefined && r.metric !== (family === 4 ? 0 : 1024)) spec.metric = r.metric;
      return spec;
    });
  }

  async routeAdd(r: RouteSpec): Promise<void> {
    await this.exec([`-${r.family}`, 'route', 'add', ...routeArgs(r)]);
  }

  async routeDel(r: RouteSpec): Promise<void> {
    await this.exec([`-${r.family}`, 'route', 'del', ...routeArgs(r)]);
  }
}

/** "2001:db8::10" (how ip -j prints a host route) → "2001:db8::10/128"; "default" stays. */
export function normalizeDst(family: Family, dst: string): string {
  if (dst === 'default' || dst.includes('/')) return dst;
  return `${dst}/${family === 4 ? 32 : 128}`;
}

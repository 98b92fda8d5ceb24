// Network namespaces for the packet dataplane's root tests: unique names, and a cleanup that
// removes everything the test made, also when it fails (call it from `after`/finally).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

let seq = 0;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Runs a command, throwing with its stderr on failure; returns stdout. */
export function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

export function ip(...args: string[]): string {
  return sh('ip', args);
}

/** Runs in a namespace: `ip netns exec NS cmd args...`. */
export function nsExec(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** The pid part of a lab id ("29309a" -> 29309). */
function pidOfLabId(id: string): number {
  return Number(id.slice(0, -1));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let swept = false;
/**
 * Removes what labs of dead test processes left behind (a run killed with SIGKILL cannot clean
 * up): namespaces tslvs-<pid><letter>-* with no process inside and links t<pid><letter>*, where
 * that pid no longer exists. Once per process, before its first lab.
 */
function sweepDeadLabs(): void {
  if (swept) return;
  swept = true;
  let names: string[];
  try {
    names = ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  } catch {
    return;
  }
  const dead = new Set<string>();
  for (const n of names) {
    const m = /^tslvs-(\d+[a-z])-/.exec(n);
    if (!m || alive(pidOfLabId(m[1])) || ip('netns', 'pids', n).trim() !== '') continue;
    dead.add(m[1]);
    try { ip('netns', 'del', n); } catch { /* already gone */ }
  }
  if (dead.size === 0) return;
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    const m = name ? /^t(\d+[a-z])/.exec(name) : null;
    if (name && m && dead.has(m[1])) {
      try { ip('link', 'del', name); } catch { /* a veth goes with its peer */ }
    }
  }
}

export class Lab {
  readonly id = `${process.pid}${String.fromCharCode(97 + (seq++ % 26))}`;

  constructor() {
    if (isRoot()) sweepDeadLabs();
  }
  readonly namespaces: string[] = [];
  readonly links: string[] = [];
  readonly children: ChildProcess[] = [];

  ns(role: string): string {
    const name = `tslvs-${this.id}-${role}`;
    ip('netns', 'add', name);
    this.namespaces.push(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** A name of at most 15 characters, unique to this lab. */
  ifname(tag: string): string {
    return `t${this.id}${tag}`.slice(0, 15);
  }

  bridge(tag: string): string {
    const br = this.ifname(tag);
    ip('link', 'add', br, 'type', 'bridge');
    this.links.push(br);
    ip('link', 'set', br, 'up');
    return br;
  }

  /** A veth from `ns` (named `inner` there) to `br` in the root namespace. */
  attach(ns: string, inner: string, br: string, tag: string): string {
    const outer = this.ifname(tag);
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', ns);
    this.links.push(outer);
    ip('link', 'set', outer, 'master', br);
    ip('link', 'set', outer, 'up');
    ip('-n', ns, 'link', 'set', inner, 'up');
    return outer;
  }

  /** A veth pair straight between two namespaces. */
  pair(nsA: string, ifA: string, nsB: string, ifB: string): void {
    const tmp = this.ifname('p');
    ip('link', 'add', tmp, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
    ip('link', 'set', tmp, 'netns', nsA);
    ip('-n', nsA, 'link', 'set', tmp, 'name', ifA);
    ip('-n', nsA, 'link', 'set', ifA, 'up');
    ip('-n', nsB, 'link', 'set', ifB, 'up');
  }

  /** A long-running process inside ns, killed by cleanup. */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(c);
    return c;
  }

  cleanup(): void {
    for (const c of this.children) {
      if (c.exitCode === null && c.pid !== undefined) {
        try { c.kill('SIGKILL'); } catch { /* gone */ }
      }
    }
    for (const l of this.links) {
      try { ip('link', 'del', l); } catch { /* removed with its namespace */ }
    }
    for (const n of this.namespaces) {
      try { ip('netns', 'del', n); } catch { /* already gone */ }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

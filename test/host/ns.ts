// A network namespace for the host tests (root): lo up and a veth pair eth0/eth1 inside it, so
// interfaces, addresses, routes and kernel parameters can change without touching the machine.
// Unique names; remove() kills what runs inside and deletes it, also after a failure.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TSLVS = join(REPO, 'bin', 'tslvs.js');

export const isRoot = (): boolean => process.getuid?.() === 0;

let seq = 0;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export class HostNs {
  readonly name = `tslvs-h${process.pid % 100000}${String.fromCharCode(97 + (seq++ % 26))}`;
  readonly tmp = mkdtempSync(join(tmpdir(), 'tslvs-host-'));

  constructor() {
    try {
      this.ip('netns', 'add', this.name);
      this.ip('-n', this.name, 'link', 'set', 'lo', 'up');
      this.ip('-n', this.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
      this.ip('-n', this.name, 'link', 'set', 'eth0', 'up');
      this.ip('-n', this.name, 'link', 'set', 'eth1', 'up');
      this.ip('-n', this.name, 'addr', 'add', '198.51.100.11/24', 'dev', 'eth0');
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  ip(...args: string[]): string {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** A command inside the namespace (synchronous; for set-up and checks). */
  sh(cmd: string, ...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  sysctl(key: string): string {
    return this.sh('sysctl', '-n', key).trim();
  }

  /** `tslvs ARGS` inside the namespace, state in this namespace's temporary directory. */
  tslvs(args: readonly string[], env: NodeJS.ProcessEnv = {}, prefix: readonly string[] = []): Promise<Run> {
    return new Promise((res) => {
      execFile('ip', ['netns', 'exec', this.name, ...prefix, process.execPath, TSLVS, ...args], {
        encoding: 'utf8', env: { ...process.env, TSLVS_STATE_DIR: join(this.tmp, 'state'), TSLVS_SOCKET: join(this.tmp, 'tslvs.sock'), ...env },
      }, (err, stdout, stderr) => res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });
  }

  /** Kernel parameters, addresses and routes: what start may change. */
  snapshot(): string {
    const sysctls = this.sh('sysctl', '-a').split('\n')
      .filter((l) => /^net\.ipv[46]\.(ip_forward|conf\.[^.]+\.(arp_ignore|arp_announce|forwarding)) /.test(l)).sort();
    const addrs = this.ip('-n', this.name, '-o', 'addr', 'show').split('\n').filter((l) => !/ fe80::/.test(l))
      .map((l) => l.replace(/\s+valid_lft.*$/, '').replace(/\\/g, '')).sort();
    const routes = ['-4', '-6'].flatMap((f) => this.ip('-n', this.name, f, 'route', 'show', 'table', 'all').split('\n'))
      .filter((l) => l !== '' && !/fe80::|ff00::/.test(l)).sort();
    return [...sysctls, ...addrs, ...routes].join('\n');
  }

  remove(): void {
    try {
      for (const pid of this.ip('netns', 'pids', this.name).split('\n').filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* no namespace */ }
    try { this.ip('netns', 'del', this.name); } catch { /* never made */ }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

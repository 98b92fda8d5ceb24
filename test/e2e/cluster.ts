// The seed's cluster for the end-to-end tests: the network of test/golden/cluster/cluster.sh
// (the same script the kernel goldens were recorded with), with tslvs as the director and as
// the real servers' set-up, driven through the CLIs exactly as a user would: `tslvs realserver`
// inside each real server's namespace, `tslvs director` inside the director's, and `tslvsadm`
// over the director's control socket. Everything is removed by cleanup(), also on failure.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonPath, META_STRIDE, openPacketSocket, type PacketAddon, type PacketHandle } from '../../src/dataplane/packet/native.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLUSTER_SH = join(REPO, 'test', 'golden', 'cluster', 'cluster.sh');
export const GOLDEN_DIR = join(REPO, 'test', 'golden', 'cluster');
const TSLVS = join(REPO, 'bin', 'tslvs.js');
const TSLVSADM = join(REPO, 'bin', 'tslvsadm.js');

export const VIP = '203.0.113.10';
export const RS = ['198.51.100.11', '198.51.100.12'];
export const PAGES = ['real server 1', 'real server 2'];
export const DIRECTOR_ADDR = '198.51.100.1';

export type Mode = 'dr' | 'nat';

/** Why the cluster tests cannot run here, or false. */
export function clusterSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, AF_PACKET)';
  if (!existsSync(addonPath())) return 'native addon not built (npm run build:native)';
  for (const tool of ['ip', 'curl', 'bash']) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); } catch { return `needs ${tool}`; }
  }
  return false;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((res) => {
    execFile(cmd, [...args], { encoding: 'utf8', env: env ?? process.env, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

let seq = 0;

export class Cluster {
  readonly id = `e${process.pid % 100000}${String.fromCharCode(97 + (seq++ % 26))}`;
  readonly tmp = mkdtempSync(join(tmpdir(), 'tslvs-cluster-'));
  /** The director's control socket and state directory. */
  readonly socket = join(this.tmp, 'dir', 'tslvs.sock');
  readonly #up: boolean;

  constructor(readonly mode: Mode) {
    try {
      execFileSync('bash', [CLUSTER_SH, this.id, 'up', mode], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.#up = true;
    } catch (err) {
      this.cleanup();
      throw err;
    }
  }

  ns(role: 'cl' | 'dir' | 'rs1' | 'rs2'): string {
    return `${this.id}-${role}`;
  }

  stateDir(role: string): string {
    return join(this.tmp, role);
  }

  /** A command inside a namespace. */
  inNs(role: 'cl' | 'dir' | 'rs1' | 'rs2', cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> {
    return run('ip', ['netns', 'exec', this.ns(role), cmd, ...args], env);
  }

  /** `tslvs ARGS` inside a namespace, with that role's state directory (and the director's socket). */
  tslvs(role: 'dir' | 'rs1' | 'rs2', args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return this.inNs(role, process.execPath, [TSLVS, ...args], {
      ...process.env, TSLVS_STATE_DIR: this.stateDir(role), TSLVS_SOCKET: this.socket, ...env,
    });
  }

  /** `tslvsadm ARGS` against the director (a Unix socket: no namespace needed). */
  tslvsadm(args: readonly string[]): Promise<Run> {
    return run(process.execPath, [TSLVSADM, ...args], { ...process.env, TSLVS_SOCKET: this.socket });
  }

  /** Runs N curls from the client (cluster.sh curl) and returns the pages, one per request. */
  async curl(n: number): Promise<string[]> {
    const r = await run('bash', [CLUSTER_SH, this.id, 'curl', String(n)]);
    if (r.code !== 0) throw new Error(`curl failed (${r.code}): ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  /**
   * Waits until both real servers have answered the director's ARP request (the packet
   * dataplane resolves a real server when it is added, and drops what it cannot send yet: a
   * first SYN lost that way would be sent again a second later and add to the counters). A
   * real server that answered holds the director's address in its neighbour table.
   */
  async waitNeighbours(): Promise<void> {
    for (const rs of ['rs1', 'rs2'] as const) {
      for (let t = 0; ; t++) {
        const r = await this.inNs(rs, 'ip', ['-j', 'neigh', 'show', DIRECTOR_ADDR]);
        const rows = r.code === 0 && r.stdout.trim() ? JSON.parse(r.stdout) as { state?: string[] }[] : [];
        if (rows.some((n) => (n.state ?? []).some((x) => ['REACHABLE', 'STALE', 'DELAY', 'PROBE'].includes(x)))) break;
        if (t > 100) throw new Error(`${rs} never answered the director's ARP request`);
        await sleep(50);
      }
    }
    // The answer is on its way back to the dataplane, which reads in batches of 1 ms.
    await sleep(100);
  }

  /** Everything a start may change in a namespace, to compare before and after. */
  snapshot(role: 'cl' | 'dir' | 'rs1' | 'rs2'): string {
    const n = this.ns(role);
    const sysctls = execFileSync('ip', ['netns', 'exec', n, 'sysctl', '-a'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter((l) => /^net\.ipv[46]\.(ip_forward|conf\.[^.]+\.(arp_ignore|arp_announce|forwarding)) /.test(l)).sort();
    const addrs = execFileSync('ip', ['-n', n, '-o', 'addr', 'show'], { encoding: 'utf8' }).split('\n')
      .filter((l) => !/ fe80::/.test(l)).map((l) => l.replace(/\s+valid_lft.*$/, '').replace(/\\/g, '')).sort();
    const routes = ['-4', '-6'].flatMap((f) => execFileSync('ip', ['-n', n, f, 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).split('\n'))
      .filter((l) => l !== '' && !/fe80::|ff00::/.test(l)).sort();
    return [...sysctls, ...addrs, ...routes].join('\n');
  }

  cleanup(): void {
    // The daemon runs detached; ending the namespaces' processes ends it too.
    try { execFileSync('bash', [CLUSTER_SH, this.id, 'down'], { stdio: 'ignore' }); } catch { /* best effort */ }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export interface Frame {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  /** TCP flags as letters (S, A, F, P, R) or '' for other protocols. */
  flags: string;
  /** TCP ports, sequence and acknowledgement numbers ("sport>dport#seq/ack"): the same for a retransmission. */
  segment: string;
}

/** Frames without TCP retransmissions (a segment sent again carries the same ports, seq and ack). */
export function uniqueSegments(frames: readonly Frame[]): Frame[] {
  const seen = new Set<string>();
  return frames.filter((f) => {
    const k = `${f.src} ${f.dst} ${f.flags} ${f.segment}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const macOf = (b: Uint8Array, o: number) => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** Every IPv4 frame seen on an interface of a namespace, from now until drain(). */
export class Spy {
  readonly #addon: PacketAddon;
  readonly #h: PacketHandle;
  readonly frames: Frame[] = [];
  readonly mac: string;

  constructor(netns: string, ifname: string) {
    const s = openPacketSocket(ifname, { netns, slots: 64 });
    this.#addon = s.addon;
    this.#h = s.h;
    this.mac = macOf(s.h.mac, 0);
    // ret #65535: accept every frame.
    this.#addon.setFilter(this.#h, new Uint8Array([6, 0, 0, 0, 0xff, 0xff, 0, 0]));
  }

  drain(): Frame[] {
    const buf = new Uint8Array(this.#h.buffer);
    for (let n = this.#addon.recv(this.#h); n > 0; n = this.#addon.recv(this.#h)) {
      for (let i = 0; i < n; i++) {
        const o = this.#h.rxMeta[i * META_STRIDE];
        if (buf[o + 12] !== 8 || buf[o + 13] !== 0) continue;
        const ihl = (buf[o + 14] & 15) * 4;
        const t = o + 14 + ihl;
        const tcp = buf[o + 23] === 6 ? buf[t + 13] : -1;
        const u16 = (x: number) => (buf[x] << 8) | buf[x + 1];
        this.frames.push({
          dstMac: macOf(buf, o), srcMac: macOf(buf, o + 6),
          src: buf.subarray(o + 26, o + 30).join('.'), dst: buf.subarray(o + 30, o + 34).join('.'),
          flags: tcp < 0 ? '' : ['F', 'S', 'R', 'P', 'A'].filter((_, b) => tcp & (1 << b)).join(''),
          segment: tcp < 0 ? '' : `${u16(t)}>${u16(t + 2)}#${((u16(t + 4) << 16) | u16(t + 6)) >>> 0}/${((u16(t + 8) << 16) | u16(t + 10)) >>> 0}`,
        });
      }
    }
    return this.frames;
  }

  close(): void {
    this.#addon.close(this.#h);
  }

  /** Drains the spies until no new frame came for 300 ms (at most 5 s): the last ACKs included. */
  static async settle(spies: readonly Spy[]): Promise<void> {
    let last = -1;
    let quietSince = Date.now();
    for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
      const n = spies.reduce((sum, s) => sum + s.drain().length, 0);
      if (n !== last) {
        last = n;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= 300) {
        return;
      }
      await sleep(50);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

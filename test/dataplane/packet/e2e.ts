// The seed's director network in namespaces, for the packet dataplane's end-to-end tests:
// one bridge; a client, a director and two real servers serving different pages. The test
// process drives an Ipvs and the packet dataplane (its socket opened in the director's
// namespace) directly.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAddr } from '../../../src/core/addr.js';
import type { Ipvs } from '../../../src/core/ipvs.js';
import { createDataplane, type PacketDataplane } from '../../../src/dataplane/packet/index.js';
import { existsSync } from 'node:fs';
import { addonPath } from '../../../src/dataplane/packet/native.js';
import { isRoot, Lab, nsExec, sleep } from './netns.js';
import { newIpvs } from './table.js';

const run = promisify(execFile);

/** Time multiplier for slow machines (the oracle VM emulates its CPU): TSLVS_E2E_SLOW=10. */
export const SLOW = Math.max(1, Number(process.env.TSLVS_E2E_SLOW ?? 1) || 1);

/** Why the end-to-end tests cannot run here, or false. */
export function e2eSkip(): string | false {
  if (!isRoot()) return 'needs root (network namespaces, AF_PACKET)';
  if (!existsSync(addonPath())) return 'native addon not built (npm run build:native)';
  return false;
}

export type Mode = 'dr' | 'nat' | 'tun';

export const VIP = '203.0.113.10';
export const RS = ['198.51.100.11', '198.51.100.12'];
export const VIP6 = '2001:db8:1::10';
export const RS6 = ['2001:db8::11', '2001:db8::12'];

/**
 * The seed's network: client, director and two real servers, each with eth0 on one bridge; the
 * director has 198.51.100.1/24 and forwarding off (the dataplane forwards, not its kernel).
 */
export function seedNetwork(l: Lab): { client: string; director: string; rs: string[] } {
  const br = l.bridge('br');
  const client = l.ns('cl');
  const director = l.ns('dir');
  const rs = [l.ns('rs1'), l.ns('rs2')];
  l.attach(client, 'eth0', br, 'c');
  l.attach(director, 'eth0', br, 'd');
  rs.forEach((ns, i) => l.attach(ns, 'eth0', br, `r${i}`));
  nsExec(director, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');
  nsExec(director, 'ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
  return { client, director, rs };
}

export class DirectorLab {
  readonly lab = new Lab();
  readonly client: string;
  readonly director: string;
  readonly rs: string[];
  readonly pages: string[] = [];
  ipvs: Ipvs = newIpvs();
  dp: PacketDataplane | null = null;
  #tick: NodeJS.Timeout | null = null;
  readonly t0 = performance.now();

  constructor(readonly mode: Mode, readonly v6 = false) {
    const l = this.lab;
    try {
      ({ client: this.client, director: this.director, rs: this.rs } = seedNetwork(l));
      if (mode !== 'nat') {
        nsExec(this.client, 'ip', 'addr', 'add', '198.51.100.100/24', 'dev', 'eth0');
        // The VIP is on the link: the client ARPs for it and the dataplane answers.
        nsExec(this.client, 'ip', 'route', 'add', `${VIP}/32`, 'dev', 'eth0');
      } else {
        nsExec(this.director, 'ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0');
        nsExec(this.client, 'ip', 'addr', 'add', '192.0.2.100/24', 'dev', 'eth0');
        nsExec(this.client, 'ip', 'route', 'add', `${VIP}/32`, 'via', '192.0.2.1');
      }
      if (v6) {
        nsExec(this.director, 'ip', 'addr', 'add', '2001:db8::1/64', 'dev', 'eth0', 'nodad');
        // Without any route to the VIP the director's IPv6 stack would answer its copy of each
        // packet with "no route" (IPv4 with forwarding off stays silent); a blackhole is quiet.
        nsExec(this.director, 'ip', '-6', 'route', 'add', 'blackhole', `${VIP6}/128`);
        if (mode === 'nat') {
          nsExec(this.director, 'ip', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'eth0', 'nodad');
          nsExec(this.client, 'ip', 'addr', 'add', '2001:db8:2::100/64', 'dev', 'eth0', 'nodad');
          nsExec(this.client, 'ip', '-6', 'route', 'add', `${VIP6}/128`, 'via', '2001:db8:2::1');
        } else {
          nsExec(this.client, 'ip', 'addr', 'add', '2001:db8::100/64', 'dev', 'eth0', 'nodad');
          nsExec(this.client, 'ip', '-6', 'route', 'add', `${VIP6}/128`, 'dev', 'eth0');
        }
      }
      this.rs.forEach((ns, i) => {
        nsExec(ns, 'ip', 'addr', 'add', `${RS[i]}/24`, 'dev', 'eth0');
        if (v6) {
          nsExec(ns, 'ip', 'addr', 'add', `${RS6[i]}/64`, 'dev', 'eth0', 'nodad');
          if (mode === 'nat') nsExec(ns, 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8::1');
          // Linux answers neighbour solicitations only for addresses of the receiving interface.
          else nsExec(ns, 'ip', 'addr', 'add', `${VIP6}/128`, 'dev', 'lo');
        }
        if (mode === 'dr') {
          // The seed's real-server script: VIP on lo, never answer or announce it on eth0.
          nsExec(ns, 'ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
          nsExec(ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
            'net.ipv4.conf.eth0.arp_ignore=1', 'net.ipv4.conf.eth0.arp_announce=2');
        } else if (mode === 'tun') {
          // An IPIP real server: tunl0 decapsulates, the VIP lives on it, reverse-path checks relaxed.
          try { nsExec(ns, 'ip', 'link', 'add', 'tunl0', 'type', 'ipip'); } catch { /* the fallback device exists already */ }
          nsExec(ns, 'ip', 'link', 'set', 'tunl0', 'up');
          nsExec(ns, 'ip', 'addr', 'add', `${VIP}/32`, 'dev', 'tunl0');
          nsExec(ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
            'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.tunl0.rp_filter=0',
            'net.ipv4.conf.eth0.rp_filter=0');
        } else {
          nsExec(ns, 'ip', 'route', 'add', 'default', 'via', '198.51.100.1');
        }
        const page = `real server ${i + 1}`;
        this.pages.push(page);
        this.serve(i, 80, page);
      });
    } catch (err) {
      this.cleanup();
      throw err;
    }
  }

  /** Starts another http server in real server i on `port`, serving `page`. */
  serve(i: number, port: number, page: string): void {
    // A tiny node server (node is wherever the tests run, the oracle VM included). It reads and
    // discards request bodies, so uploads can be sent through the director too.
    // GET /big answers 4 MiB of 'x' (large replies: GSO frames through a NAT director).
    const code = `require('http').createServer((q, s) => { let n = 0; q.on('data', (d) => { n += d.length; }); ` +
      `q.on('end', () => s.end(q.url === '/big' ? Buffer.alloc(4 << 20, 120) : ${JSON.stringify(page)} + (n ? ' got ' + n : '') + '\\n')); }).listen(${port}, '::')`;
    this.lab.spawnIn(this.rs[i], process.execPath, ['-e', code]);
  }

  now = (): number => performance.now() - this.t0;

  async start(): Promise<PacketDataplane> {
    this.dp = (await createDataplane({
      ipvs: this.ipvs, now: this.now,
      settings: { interface: 'eth0', netns: this.director, localAddr: '198.51.100.1/24', ...(this.v6 ? { localAddr6: '2001:db8::1' } : {}) },
    })) as PacketDataplane;
    this.#tick = setInterval(() => this.ipvs.tick(this.now()), 200);
    await this.waitServers();
    return this.dp;
  }

  /** Waits until both http servers answer from inside their namespaces. */
  async waitServers(): Promise<void> {
    for (const [i, ns] of this.rs.entries()) {
      for (let t = 0; ; t++) {
        try {
          await run('ip', ['netns', 'exec', ns, 'curl', '-s', '-m', String(SLOW), `http://${RS[i]}/`]);
          break;
        } catch {
          if (t > 50 * SLOW) throw new Error(`http server in ${ns} did not start`);
          await sleep(100);
        }
      }
    }
  }

  /** Waits until the dataplane knows the MACs of both real servers. */
  async waitNeighbours(addrs: readonly string[] = RS): Promise<void> {
    const want = addrs.map((a) => parseAddr(a)!);
    for (let t = 0; t < 60 * SLOW; t++) {
      if (want.every((a) => this.dp!.forwarder.resolved(a))) return;
      await sleep(100);
    }
    throw new Error(`real servers ${addrs.join(', ')} did not answer ARP / neighbour solicitations`);
  }

  async curl(...extra: string[]): Promise<string> {
    return this.curlUrl(`http://${VIP}/`, ...extra);
  }

  /** POSTs `body` (from standard input, so it may be large) to the VIP. */
  curlWithInput(body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = execFile('ip', ['netns', 'exec', this.client, 'curl', '-s', '-m', String(10 * SLOW), '--data-binary', '@-', `http://${VIP}/`],
        { maxBuffer: 1 << 24 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
      c.stdin?.end(body);
    });
  }

  async curlUrl(url: string, ...extra: string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.client, 'curl', '-s', '-g', '-m', String(5 * SLOW), ...extra, url], { maxBuffer: 1 << 24 });
    return stdout.trim();
  }

  cleanup(): void {
    if (this.#tick) clearInterval(this.#tick);
    void this.dp?.close();
    this.lab.cleanup();
  }
}

export { sleep };

// createDataplane and apply(): settings validated all or nothing; the table's VIPs are answered
// for exactly while their services exist (root part: a veth pair in two namespaces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET, ANY4 } from '../../../src/core/addr.js';
import { DEFAULT_NETMASK_V4, IPPROTO_TCP } from '../../../src/core/service.js';
import { isTslvsError } from '../../../src/errors.js';
import { ARPOP_REPLY, ARPOP_REQUEST, arpOp, arpSpa, arpWrite } from '../../../src/dataplane/packet/frame/arp.js';
import { createDataplane, parsePacketSettings } from '../../../src/dataplane/packet/index.js';
import { META_STRIDE, openPacketSocket } from '../../../src/dataplane/packet/native.js';
import { e2eSkip } from './e2e.js';
import { Lab, nsExec, sleep } from './netns.js';
import { addService, newIpvs } from './table.js';

test('settings: defaults, and every bad value refused with what to do', () => {
  const s = parsePacketSettings({ interface: 'eth0' });
  assert.deepEqual({ ...s }, { interface: 'eth0', netns: undefined, answerArp: true, localAddr: undefined, localAddr6: undefined, gateway: undefined, slots: 128, pmtuDisc: true, ring: true });
  assert.ok(Object.isFrozen(s));
  const bad = (x: Record<string, unknown>, re: RegExp): void => {
    assert.throws(() => parsePacketSettings(x), (e: unknown) => isTslvsError(e) && e.code === 'TSLVS_ERR_BAD_OPTION' && re.test(`${e.message} | ${e.hint}`));
  };
  bad({}, /needs an interface name.*--interface/);
  bad({ interface: 'a-very-long-interface-name' }, /interface name/);
  bad({ interface: 'eth0', slot: 3 }, /Unknown packet dataplane setting "slot"/);
  bad({ interface: 'eth0', slots: 0 }, /"slots" must be an integer from 1 to 4096/);
  bad({ interface: 'eth0', localAddr: '198.51.100.1/33' }, /Bad local address "198.51.100.1\/33"/);
  bad({ interface: 'eth0', localAddr6: 'fe80::zz' }, /Bad local IPv6 address/);
  bad({ interface: 'eth0', gateway: 'router' }, /Bad gateway "router"/);
  bad({ interface: 'eth0', answerArp: 'yes' }, /"answerArp" must be true or false/);
});

test('apply (root): a VIP is answered for while its service exists, and not after it is removed', { skip: e2eSkip(), timeout: 30_000 }, async () => {
  const lab = new Lab();
  try {
    const dir = lab.ns('dir');
    const peer = lab.ns('peer');
    lab.pair(dir, 'eth0', peer, 'eth0');
    nsExec(dir, 'ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
    const ipvs = newIpvs();
    const dp = await createDataplane({ ipvs, now: () => performance.now(), settings: { interface: 'eth0', netns: dir } });
    const p = openPacketSocket('eth0', { netns: peer, slots: 32 });
    p.addon.setFilter(p.h, new Uint8Array([6, 0, 0, 0, 0xff, 0xff, 0, 0]));
    const buf = new Uint8Array(p.h.buffer);
    let replies = 0;
    let announced = 0;
    const drain = (): void => {
      for (let n = p.addon.recv(p.h); n > 0; n = p.addon.recv(p.h)) {
        for (let i = 0; i < n; i++) {
          const f = p.h.rxMeta[i * META_STRIDE];
          if (buf[f + 12] !== 8 || buf[f + 13] !== 6 || arpSpa(buf, f + 14) !== 0xcb00710a) continue;
          if (arpOp(buf, f + 14) === ARPOP_REPLY) replies++; else announced++;
        }
      }
    };
    /** Asks who has 203.0.113.10; waits for an answer when one is expected, 300 ms otherwise. */
    const ask = async (expect: boolean): Promise<{ replies: number; announced: number }> => {
      replies = 0;
      announced = 0;
      const o = p.h.scratchOffset;
      arpWrite(buf, o, ARPOP_REQUEST, p.h.mac, 0, 0xc6336464, 0xcb00710a, null, 0);
      p.h.txMeta.fill(0, 0, META_STRIDE);
      p.h.txMeta[0] = o; p.h.txMeta[1] = 60;
      p.addon.send(p.h, 1);
      for (let t = 0; t < (expect ? 40 : 6); t++) {
        await sleep(50);
        drain();
        if (expect && replies > 0) break;
      }
      return { replies, announced };
    };
    assert.deepEqual(await ask(false), { replies: 0, announced: 0 });
    const add = addService(ipvs, 'tcp', '203.0.113.10', 80, 'rr', []);
    await dp.apply(add);
    const withSvc = await ask(true);
    assert.equal(withSvc.replies, 1);
    assert.equal(withSvc.announced, 1, 'a gratuitous ARP when the VIP appeared');
    // A fwmark service is refused, not accepted and left without packets.
    const fwm = { af: AF_INET, protocol: IPPROTO_TCP, addr: ANY4, port: 0, fwmark: 7 } as const;
    const fwmDiff = ipvs.table.transaction(() => ipvs.table.addService({ ...fwm, schedName: 'rr', flags: 0, timeoutS: 0, netmask: DEFAULT_NETMASK_V4, peName: '' })).diff;
    await assert.rejects(dp.apply(fwmDiff), (e: unknown) => isTslvsError(e) && e.code === 'TSLVS_ERR_DATAPLANE_REFUSED' && /fwmark service "FWM 7"/.test(e.message));
    assert.equal((await ask(true)).replies, 1, 'the refused change left the VIP answered');
    const del = ipvs.table.transaction(() => ipvs.table.delService({ af: 2, protocol: 6, addr: add.addedServices[0].addr, port: 80, fwmark: 0 })).diff;
    await dp.apply(del);
    assert.deepEqual(await ask(false), { replies: 0, announced: 0 });
    p.addon.close(p.h);
    await dp.close();
  } finally {
    lab.cleanup();
  }
});

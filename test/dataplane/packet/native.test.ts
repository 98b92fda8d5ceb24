// The native addon itself (root): errors in words, interface facts, filter, batched send and
// receive across a veth pair, and the partial-checksum flag veth hands over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isTslvsError } from '../../../src/errors.js';
import {
  F_NEEDS_CSUM, M_CSUM_OFF, M_CSUM_START, M_FLAGS, M_LEN, M_OFF, META_STRIDE, addonPath, openPacketSocket,
} from '../../../src/dataplane/packet/native.js';
import { existsSync } from 'node:fs';
import { Lab, nsExec, sleep, isRoot } from './netns.js';

const skip = !isRoot() ? 'needs root (network namespaces, AF_PACKET)' : !existsSync(addonPath()) ? 'native addon not built (npm run build:native)' : false;
const ACCEPT_ALL = new Uint8Array([6, 0, 0, 0, 0xff, 0xff, 0, 0]);

test('an unknown interface is refused with its name and what to do (root)', { skip }, () => {
  assert.throws(() => openPacketSocket('tslvs-nope0'), (e: unknown) => isTslvsError(e) &&
    e.message === 'No such network interface "tslvs-nope0" (ENODEV)' && /--interface/.test(e.hint));
  assert.throws(() => openPacketSocket('lo', { netns: 'tslvs-no-such-ns' }), (e: unknown) => isTslvsError(e) &&
    /namespace "tslvs-no-such-ns"/.test(e.message) && /ip netns list/.test(e.hint));
});

test('without privileges the error says to run as root or use the proxy dataplane (root, drops to nobody)', { skip }, () => {
  const mod = fileURLToPath(new URL('../../../src/dataplane/packet/native.js', import.meta.url));
  const code = `import(${JSON.stringify(mod)}).then((m) => { try { m.openPacketSocket('lo'); console.log('opened'); } catch (e) { console.log(e.message + ' | ' + e.hint); } })`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, TSLVS_PACKET_ADDON: addonPath() } });
  if (r.stdout.trim() === '' && /EACCES|permission/i.test(r.stderr)) return; // the checkout is not readable by nobody
  assert.match(r.stdout, /Cannot open AF_PACKET socket on "lo": permission denied \(EPERM\) \| run as root .*--dataplane proxy/);
});

for (const ring of [0, 1]) test(`frames sent in one batch arrive on the other side (${ring ? 'TPACKET_V3 ring' : 'recvmmsg'}), with interface facts (root)`, { skip }, async () => {
  const lab = new Lab();
  try {
    const a = lab.ns('a');
    const b = lab.ns('b');
    lab.pair(a, 'eth0', b, 'eth0');
    nsExec(a, 'ip', 'link', 'set', 'eth0', 'mtu', '1400');
    const tx = openPacketSocket('eth0', { netns: a, slots: 8 });
    const rx = openPacketSocket('eth0', { netns: b, slots: 64, ring });
    assert.equal(rx.h.ring, ring);
    assert.equal(tx.h.mtu, 1400);
    assert.equal(tx.h.mac.length, 6);
    assert.ok(tx.h.ifindex > 0);
    assert.deepEqual(tx.addon.ifInfo(tx.h).mtu, 1400);
    rx.addon.setFilter(rx.h, ACCEPT_ALL);
    assert.throws(() => rx.addon.setFilter(rx.h, new Uint8Array(3)));
    // 20 broadcast frames of EtherType 0x88b5 (local experimental), numbered in the payload.
    const buf = new Uint8Array(tx.h.buffer);
    const base = tx.h.scratchOffset;
    for (let i = 0; i < 20; i++) {
      const o = base + i * 64;
      buf.fill(0xff, o, o + 6);
      buf.set(tx.h.mac, o + 6);
      buf[o + 12] = 0x88; buf[o + 13] = 0xb5;
      buf.fill(i, o + 14, o + 60);
      const m = i * META_STRIDE;
      tx.h.txMeta.fill(0, m, m + META_STRIDE);
      tx.h.txMeta[m] = o;
      tx.h.txMeta[m + 1] = 60;
    }
    // A row pointing outside the buffer is skipped, not sent.
    tx.h.txMeta[20 * META_STRIDE] = -5;
    tx.h.txMeta[20 * META_STRIDE + 1] = 60;
    assert.equal(tx.addon.send(tx.h, 21), 20);
    await sleep(50 + ring * 50); // a ring block is handed over when full or after 1 ms
    const seen: number[] = [];
    const rbuf = new Uint8Array(rx.h.buffer);
    for (let n = rx.addon.recv(rx.h); n > 0; n = rx.addon.recv(rx.h)) {
      for (let i = 0; i < n; i++) {
        const o = rx.h.rxMeta[i * META_STRIDE + M_OFF];
        if (rbuf[o + 12] === 0x88 && rbuf[o + 13] === 0xb5) {
          assert.equal(rx.h.rxMeta[i * META_STRIDE + M_LEN], 60);
          seen.push(rbuf[o + 14]);
        }
      }
    }
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i));
    tx.addon.close(tx.h);
    rx.addon.close(rx.h);
    assert.throws(() => rx.addon.recv(rx.h), /closed/);
  } finally {
    lab.cleanup();
  }
});

test('readiness arrives through libuv, and veth\'s partial checksums come flagged with their offsets (root)', { skip }, async () => {
  const lab = new Lab();
  try {
    const a = lab.ns('a');
    const b = lab.ns('b');
    lab.pair(a, 'eth0', b, 'eth0');
    nsExec(a, 'ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0');
    nsExec(b, 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0');
    const rx = openPacketSocket('eth0', { netns: b, slots: 16 });
    rx.addon.setFilter(rx.h, ACCEPT_ALL);
    let flagged = -1;
    let start = 0;
    let field = 0;
    const done = new Promise<void>((resolve) => {
      rx.addon.poll(rx.h, () => {
        for (let n = rx.addon.recv(rx.h); n > 0; n = rx.addon.recv(rx.h)) {
          for (let i = 0; i < n; i++) {
            const m = i * META_STRIDE;
            const o = rx.h.rxMeta[m + M_OFF];
            const buf = new Uint8Array(rx.h.buffer, o, 64);
            if (buf[12] === 8 && buf[23] === 17) {
              flagged = rx.h.rxMeta[m + M_FLAGS] & F_NEEDS_CSUM;
              start = rx.h.rxMeta[m + M_CSUM_START];
              field = rx.h.rxMeta[m + M_CSUM_OFF];
              resolve();
            }
          }
        }
      });
    });
    nsExec(a, 'node', '-e', "const s=require('dgram').createSocket('udp4');s.send(Buffer.from('hello'),9,'192.0.2.2',()=>s.close())");
    await Promise.race([done, sleep(3000)]);
    rx.addon.pollStop(rx.h);
    rx.addon.close(rx.h);
    assert.equal(flagged, F_NEEDS_CSUM);
    assert.equal(start, 34);
    assert.equal(field, 6);
  } finally {
    lab.cleanup();
  }
});

test('a missing addon is reported with how to build it', () => {
  const mod = fileURLToPath(new URL('../../../src/dataplane/packet/native.js', import.meta.url));
  const code = `import(${JSON.stringify(mod)}).then((m) => { try { m.loadAddon(); console.log('loaded'); } catch (e) { console.log(e.code + ' ' + e.message + ' | ' + e.hint); } })`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8', env: { ...process.env, TSLVS_PACKET_ADDON: '/nonexistent/tslvs_packet.node' },
  });
  assert.equal(r.stdout.trim(), 'TSLVS_ERR_DATAPLANE_UNAVAILABLE The packet dataplane\'s native addon is not built (no "/nonexistent/tslvs_packet.node") | ' +
    'build it with `npm run build:native` (needs python3, make and a C compiler), or use --dataplane proxy');
});

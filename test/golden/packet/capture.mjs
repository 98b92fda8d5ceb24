// Capture helper for record-tun-kernel.sh (runs inside the oracle VM): prints, as hex, the first
// frame of each kind (ipip, gue, gre, gre-csum) seen on eth0 of the namespace given, for `seconds`.
// Needs the checkout built (dist/ and the native addon).
import { META_STRIDE, openPacketSocket } from '../../../dist/src/dataplane/packet/native.js';

const [ns, seconds] = [process.argv[2], Number(process.argv[3] ?? 10)];
const { addon, h } = openPacketSocket('eth0', { netns: ns, slots: 64, slotSize: 4096 });
addon.setFilter(h, new Uint8Array([6, 0, 0, 0, 0xff, 0xff, 0, 0]));
const seen = new Set();
const buf = new Uint8Array(h.buffer);
const end = Date.now() + seconds * 1000;
const timer = setInterval(() => {
  for (let n = addon.recv(h); n > 0; n = addon.recv(h)) {
    for (let i = 0; i < n; i++) {
      const o = h.rxMeta[i * META_STRIDE];
      const len = h.rxMeta[i * META_STRIDE + 1];
      if (buf[o + 12] !== 8 || buf[o + 13] !== 0) continue;
      const proto = buf[o + 23];
      const kind = proto === 4 ? 'ipip' : proto === 17 && ((buf[o + 36] << 8) | buf[o + 37]) === 6080 ? 'gue'
        : proto === 47 ? (buf[o + 34] & 0x80 ? 'gre-csum' : 'gre') : null;
      if (!kind || seen.has(kind)) continue;
      seen.add(kind);
      console.log(`${kind} ${h.rxMeta[i * META_STRIDE + 2]} ${Buffer.from(buf.subarray(o, o + len)).toString('hex')}`);
    }
  }
  if (Date.now() > end || seen.size === 4) { clearInterval(timer); addon.close(h); }
}, 20);

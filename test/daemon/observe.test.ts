// The /proc refresh's slices (src/daemon/observe.ts) and the request marks it gives way to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import { formatIpVs, ipVsHeader } from '../../src/control/procfs.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { NoneDataplane } from '../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../src/daemon/director.js';
import { formatIpVsSliced } from '../../src/daemon/observe.js';
import { handleRequest } from '../../src/daemon/requests.js';

/** Address and fwmark services mixed in creation order, IPv6, persistence, real servers of every method. */
const RULES = `
-A -f 7 -s rr
-a -f 7 -r 198.51.100.7:80 -g -w 1
-A -t 192.0.2.1:80 -s wlc
-a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 3
-a -t 192.0.2.1:80 -r 198.51.100.2:8080 -m -w 0
-a -t 192.0.2.1:80 -r 198.51.100.3:8080 -i -w 2
-A -u 192.0.2.2:53 -s rr -p 300 -M 255.255.255.0
-a -u 192.0.2.2:53 -r 198.51.100.4:53 -g -w 1
-A -t [2001:db8::1]:443 -s sh -b sh-port
-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 5
-A -f 3 -6 -s wrr
-A -t 192.0.2.3:80 -s lc
`;

async function director(): Promise<Director> {
  const d = new Director({ ipvs: new Ipvs({ random: () => 0 }), dataplane: new NoneDataplane(), store: null });
  const results = await d.exec(parseIpvsadmRules(RULES, 'rules').map((e) => e.cmd));
  assert.ok(results.every((r) => r === null), JSON.stringify(results));
  return d;
}

test('/proc/net/ip_vs formatted a slice at a time is the text of the whole table, address services before fwmark ones', async () => {
  const d = await director();
  const whole = formatIpVs(d.snapshotNow());
  for (const slice of [1, 2, 3, 4096]) {
    let turns = 0;
    const r = await formatIpVsSliced(d, d.ipvs.table.services(), slice, () => {
      turns++;
      return false;
    });
    assert.ok(r !== null);
    assert.equal(ipVsHeader(d.snapshotNow()) + r.ipVs, whole, `slices of ${slice}`);
    assert.deepEqual(r.seen.map((s) => s.fwmark || s.addr), ['192.0.2.1', '192.0.2.2', '2001:db8::1', '192.0.2.3', 7, 3]);
    assert.ok(slice === 4096 ? turns === 0 : turns > 0, `slices of ${slice}: ${turns} turns`);
  }
});

test('a sliced refresh ends with null when it is told to stop after a turn of the event loop', async () => {
  const d = await director();
  assert.equal(await formatIpVsSliced(d, d.ipvs.table.services(), 2, () => true), null);
});

test('control requests are marked begun and ended on the director, so background work can give way', async () => {
  const d = await director();
  const ctx = { director: d, reload: async () => '', shutdown: () => undefined, facts: () => ({}) };
  assert.deepEqual(d.requests, { begun: 0, inFlight: 0, lastEndMs: -Infinity });
  const pending = handleRequest(ctx, { type: 'get-table', rows: true });
  assert.equal(d.requests.inFlight, 1);
  assert.equal(d.requests.begun, 1);
  const res = await pending;
  assert.equal(res.type, 'table-rows');
  assert.equal(d.requests.inFlight, 0);
  assert.ok(Number.isFinite(d.requests.lastEndMs));
  await handleRequest(ctx, 'not a request');
  assert.deepEqual([d.requests.begun, d.requests.inFlight], [2, 0]);
});

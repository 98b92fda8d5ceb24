// Listing formats with known numbers (counters need traffic, which the replayed goldens have
// none of): lines verified on the reference kernel in the spec (§3.3-3.5, §11.1, §11.6) and the
// arithmetic of ipvsadm.c print_largenum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnWire, DestSnapshot, ServiceSnapshot, StatsWire, TableSnapshot } from '../../../src/control/protocol.js';
import { FMT_EXACT, FMT_NUMERIC, FMT_PERSISTENTCONN, FMT_RATE, FMT_STATS } from '../../../src/cli/tslvsadm/command.js';
import { largenum, listAll, listConns, msort, Namer } from '../../../src/cli/tslvsadm/format.js';
import { Resolver } from '../../../src/cli/tslvsadm/resolve.js';
import { GOLDEN_ENV } from './goldens.js';

const zero: StatsWire = { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
const numeric = () => new Namer(new Resolver({ hostsFile: GOLDEN_ENV.TSLVSADM_HOSTS_FILE, servicesFile: GOLDEN_ENV.TSLVSADM_SERVICES_FILE }), true);

function dest(addr: string, stats: Partial<StatsWire>, more: Partial<DestSnapshot> = {}): DestSnapshot {
  return {
    af: 2, addr, port: 80, fwd: 3, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0,
    activeConns: 0, inactConns: 0, persistConns: 0, overloaded: false, stats: { ...zero, ...stats }, ...more,
  };
}

function table(services: ServiceSnapshot[]): TableSnapshot {
  return { version: '1.2.1', connTabSize: 4096, timeouts: { tcp: 900, tcpfin: 120, udp: 300 }, services, totals: zero, dataplane: 'none' };
}

const seed = (svcStats: Partial<StatsWire>, d1: Partial<StatsWire>, d2: Partial<StatsWire>): TableSnapshot => table([{
  af: 2, protocol: 6, addr: '192.168.1.230', port: 80, fwmark: 0, sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '',
  stats: { ...zero, ...svcStats },
  // kernel list order: newest first
  dests: [dest('192.168.1.201', d2), dest('192.168.1.100', d1)],
}]);

test('--stats after 6 SYNs on the seed configuration prints the lines the kernel showed (spec 11.1)', () => {
  const t = seed({ conns: 6, inpkts: 6, inbytes: 240 }, { conns: 3, inpkts: 3, inbytes: 120 }, { conns: 3, inpkts: 3, inbytes: 120 });
  assert.equal(listAll(t, FMT_NUMERIC | FMT_STATS, numeric()), [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
    '  -> RemoteAddress:Port',
    'TCP  192.168.1.230:80                    6        6        0      240        0',
    '  -> 192.168.1.100:80                    3        3        0      120        0',
    '  -> 192.168.1.201:80                    3        3        0      120        0',
    '',
  ].join('\n'));
});

test('print_largenum switches to K, M, G and T at 10^8, 10^9, 10^11 and 10^14 with integer division', () => {
  assert.equal(largenum(99999999, 0), ' 99999999');
  assert.equal(largenum(100000000, 0), '  100000K');
  assert.equal(largenum(999999999, 0), '  999999K');
  assert.equal(largenum(1000000000, 0), '    1000M');
  assert.equal(largenum(99999999999, 0), '   99999M');
  assert.equal(largenum(100000000000, 0), '     100G');
  assert.equal(largenum(99999999999999, 0), '   99999G');
  assert.equal(largenum(100000000000000, 0), '     100T');
  assert.equal(largenum(0, 0), '        0');
});

test('--exact pads to 9 up to 8 digits and to the length plus one beyond', () => {
  assert.equal(largenum(12345678, FMT_EXACT), ' 12345678');
  assert.equal(largenum(123456789, FMT_EXACT), ' 123456789');
  assert.equal(largenum(1234567890123, FMT_EXACT), ' 1234567890123');
});

test('--rate prints real servers\' CPS, InPPS and OutPPS without K/M suffixes, as ipvsadm does', () => {
  const t = seed({ cps: 125, inpps: 250000000, inbps: 16000 }, { cps: 125, inpps: 250000000, outpps: 7, inbps: 123456789012, outbps: 5 }, {});
  const out = listAll(t, FMT_NUMERIC | FMT_RATE, numeric()).split('\n');
  assert.equal(out[1], 'Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS');
  assert.equal(out[3], 'TCP  192.168.1.230:80                  125  250000K        0    16000        0');
  assert.equal(out[4], '  -> 192.168.1.100:80                  125 250000000        7     123G        5');
  assert.equal(out[5], '  -> 192.168.1.201:80                    0        0        0        0        0');
});

test('--exact --rate keeps the service numbers exact too', () => {
  const t = seed({ inbps: 123456789012 }, {}, {});
  const out = listAll(t, FMT_NUMERIC | FMT_RATE | FMT_EXACT, numeric()).split('\n');
  assert.equal(out[3], 'TCP  192.168.1.230:80                    0        0        0 123456789012        0');
});

test('--persistent-conn shows weight, templates, active and inactive as in the persistence case (spec 11.6)', () => {
  const t = table([{
    af: 2, protocol: 6, addr: '192.168.1.170', port: 80, fwmark: 0, sched: 'rr', flags: 1, timeoutS: 300, netmask: 0xffffffff, pe: '', stats: zero,
    dests: [dest('192.168.1.102', {}, { persistConns: 2, activeConns: 3 }), dest('192.168.1.101', {}, { persistConns: 1, activeConns: 1 })],
  }]);
  assert.deepEqual(listAll(t, FMT_NUMERIC | FMT_PERSISTENTCONN, numeric()).split('\n').slice(1), [
    'Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ',
    '  -> RemoteAddress:Port',
    'TCP  192.168.1.170:80 rr persistent 300',
    '  -> 192.168.1.101:80             1         1           1          0         ',
    '  -> 192.168.1.102:80             1         2           3          0         ',
    '',
  ]);
});

const conn = (c: Partial<ConnWire>): ConnWire => ({
  protocol: 6, af: 2, caddr: '198.51.100.1', cport: 41000, vaddr: '192.168.1.230', vport: 80, daddr: '192.168.1.201', dport: 80,
  fwmark: 0, template: false, state: 'SYN_RECV', expiresS: 59, ...c,
});

test('-c prints connections and templates as ipvsadm reformats /proc/net/ip_vs_conn (spec 3.5, 11.6)', () => {
  const conns = [
    conn({}),
    conn({ protocol: 17, cport: 40001, vport: 53, daddr: '192.168.1.100', dport: 53, state: 'UDP', expiresS: 299.7 }),
    conn({ caddr: '198.51.100.7', cport: 0, vaddr: '192.168.1.170', daddr: '192.168.1.102', state: 'NONE', expiresS: 299, template: true }),
    conn({ protocol: 0, caddr: '198.51.100.8', cport: 0, vaddr: '0.0.0.0', vport: 0, daddr: '192.168.1.101', dport: 0, state: 'NONE', fwmark: 7, template: true }),
    conn({ protocol: 17, af: 10, caddr: '2001:db8:1::100', cport: 40000, vaddr: '2001:db8:1::230', vport: 53, daddr: '2001:db8:1::11', dport: 5353, state: 'UDP', expiresS: 299 }),
    conn({ state: 'ESTABLISHED', expiresS: 6000 }),
  ];
  assert.equal(listConns(conns, FMT_NUMERIC, numeric()), [
    'IPVS connection entries',
    'pro expire state       source             virtual            destination',
    'TCP 00:59  SYN_RECV    198.51.100.1:41000 192.168.1.230:80   192.168.1.201:80',
    'UDP 04:59  UDP         198.51.100.1:40001 192.168.1.230:53   192.168.1.100:53',
    'TCP 04:59  NONE        198.51.100.7:0     192.168.1.170:80   192.168.1.102:80',
    'IP  00:59  NONE        198.51.100.8:0     0.0.0.7:0          192.168.1.101:0',
    'UDP 04:59  UDP         [2001:db8:1::100]:40000 [2001:db8:1::230]:53 [2001:db8:1::11]:5353',
    'TCP 100:00 ESTABLISHED 198.51.100.1:41000 192.168.1.230:80   192.168.1.201:80',
    '',
  ].join('\n'));
});

test('-c --persistent-conn adds the pe columns; rows with PE data use their own widths', () => {
  const out = listConns([
    conn({ protocol: 17, vport: 5060, dport: 5060, state: 'UDP', expiresS: 299, peName: 'sip', peData: 'a84b4c76e66710' }),
    conn({}),
  ], FMT_NUMERIC | FMT_PERSISTENTCONN, numeric()).split('\n');
  assert.equal(out[1], 'pro expire state       source             virtual            destination        pe name          pe_data');
  assert.equal(out[2], 'UDP 04:59  UDP         198.51.100.1:41000 192.168.1.230:5060 192.168.1.201:5060 sip                a84b4c76e66710');
  assert.equal(out[3], 'TCP 00:59  SYN_RECV    198.51.100.1:41000 192.168.1.230:80   192.168.1.201:80');
});

test('-c without -n names hosts and ports by the connection\'s protocol; fwmark templates stay numeric', () => {
  const names = new Namer(new Resolver({ hostsFile: GOLDEN_ENV.TSLVSADM_HOSTS_FILE, servicesFile: GOLDEN_ENV.TSLVSADM_SERVICES_FILE }), false);
  const out = listConns([
    conn({ caddr: '192.0.2.10', vaddr: '192.0.2.5' }),
    conn({ protocol: 0, vaddr: '0.0.0.0', vport: 0, dport: 80, fwmark: 7, template: true, daddr: '127.0.0.1' }),
  ], 0, names).split('\n');
  assert.equal(out[2], 'TCP 00:59  SYN_RECV    rs1.example.org:41000 vip.example.org:http 192.168.1.201:http');
  assert.equal(out[3], 'IP  00:59  SYN_RECV    198.51.100.1:41000 0.0.0.7:0          localhost:80');
});

test('the merge sort reproduces the kernel-verified order of the overflow quirk (spec 11.9)', () => {
  const order = ['10.0.0.5', '192.168.1.100', '192.168.1.201', '10.0.0.4', '172.16.5.5', '192.168.1.2', '128.0.0.9', '127.0.0.2'];
  const toU32 = (a: string) => a.split('.').reduce((v, o) => v * 256 + Number(o), 0);
  const kernelList = [...order].reverse();
  const sorted = msort(kernelList, (a, b) => ((toU32(a) - toU32(b)) | 0));
  assert.deepEqual(sorted, ['127.0.0.2', '128.0.0.9', '172.16.5.5', '192.168.1.2', '192.168.1.100', '192.168.1.201', '10.0.0.4', '10.0.0.5']);
});

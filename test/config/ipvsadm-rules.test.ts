import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FMT_NUMERIC, FMT_RULE } from '../../src/cli/tslvsadm/command.js';
import { listAll, Namer } from '../../src/cli/tslvsadm/format.js';
import { Resolver } from '../../src/cli/tslvsadm/resolve.js';
import { parseIpvsadmRules } from '../../src/config/ipvsadm-rules.js';
import { Ipvs } from '../../src/core/ipvs.js';
import { NoneDataplane } from '../../src/dataplane/none/none-dataplane.js';
import { Director } from '../../src/daemon/director.js';
import { TslvsError } from '../../src/errors.js';
import { REPO } from '../helpers/daemon.js';

/** The output lines of the first `$ [...args]` block of a golden recorded by record-ipvsadm.sh. */
function goldenOutput(file: string, args: string[]): string[] {
  const lines = readFileSync(join(REPO, 'test', 'golden', 'ipvsadm', file), 'utf8').split('\n');
  const at = lines.indexOf(`$ [${args.map((a) => JSON.stringify(a)).join(", ")}]`);
  assert.ok(at >= 0, `no ${JSON.stringify(args)} in ${file}`);
  const out: string[] = [];
  for (let i = at + 1; !lines[i].startsWith('= '); i++) if (lines[i].startsWith('1|')) out.push(lines[i].slice(2));
  return out;
}

test('the real ipvsadm -S -n output parses, and the table it builds saves back byte for byte', async () => {
  // test/golden/ipvsadm/save.txt: a table built with the real ipvsadm on Linux 6.1, then saved.
  const saved = goldenOutput('save.txt', ['-S', '-n']);
  assert.ok(saved.length > 15);
  const d = new Director({ ipvs: new Ipvs({ random: () => 1 }), dataplane: new NoneDataplane(), store: null });
  await d.applyRules(parseIpvsadmRules(saved.join('\n'), 'save.txt'), 'save.txt');
  const again = listAll(await d.snapshot(), FMT_RULE | FMT_NUMERIC, new Namer(new Resolver(), true));
  assert.deepEqual(again.trimEnd().split('\n'), saved);
});

test('ipvsadm defaults: wlc, /32 mask, weight 1, direct routing, the virtual port, 360 s for a bare -p', () => {
  const r = parseIpvsadmRules([
    '-A -t 192.0.2.1:80', '-a -t 192.0.2.1:80 -r 198.51.100.1', '-A -f 7 -6 -s rr -p', '-A -u [2001:db8::1]:53 -s rr -o -M 64 -p 10',
    '-A --sctp-service 192.0.2.2:3868 -s rr', 'ipvsadm -a --sctp-service 192.0.2.2:3868 -r 198.51.100.2:0 -m -w 0 -x 10 -y 5 --proxy-protocol 2',
  ].join('\n'), 'f');
  assert.deepEqual(r.map((e) => e.cmd), [
    { cmd: 'add-service', svc: { af: 2, protocol: 6, addr: '192.0.2.1', port: 80, fwmark: 0, sched: 'wlc', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } },
    { cmd: 'add-dest', svc: { af: 2, protocol: 6, addr: '192.0.2.1', port: 80, fwmark: 0 },
      dest: { af: 2, addr: '198.51.100.1', port: 80, fwd: 3, weight: 1, uThreshold: 0, lThreshold: 0, tunType: 0, tunPort: 0, tunFlags: 0 } },
    { cmd: 'add-service', svc: { af: 10, protocol: 6, addr: '::', port: 0, fwmark: 7, sched: 'rr', flags: 1, timeoutS: 360, netmask: 128, pe: '' } },
    { cmd: 'add-service', svc: { af: 10, protocol: 17, addr: '2001:db8::1', port: 53, fwmark: 0, sched: 'rr', flags: 5, timeoutS: 10, netmask: 64, pe: '' } },
    { cmd: 'add-service', svc: { af: 2, protocol: 132, addr: '192.0.2.2', port: 3868, fwmark: 0, sched: 'rr', flags: 0, timeoutS: 0, netmask: 0xffffffff, pe: '' } },
    { cmd: 'add-dest', svc: { af: 2, protocol: 132, addr: '192.0.2.2', port: 3868, fwmark: 0 },
      dest: { af: 2, addr: '198.51.100.2', port: 0, fwd: 0, weight: 0, uThreshold: 10, lThreshold: 5, tunType: 0, tunPort: 0, tunFlags: 0, proxyProtocol: 2 } },
  ]);
  assert.deepEqual(r.map((e) => e.line), [1, 2, 3, 4, 5, 6]);
});

test('comments and blank lines are skipped; line numbers stay those of the file', () => {
  const r = parseIpvsadmRules('# header\n\n-A -t 192.0.2.1:80 -s rr   # web\r\n\n-A -u 192.0.2.1:53 -s rr\n', 'f');
  assert.deepEqual(r.map((e) => e.line), [3, 5]);
});

test('a bad line stops the parse with file:line, the fault and what the file must look like', () => {
  const cases: [string, RegExp][] = [
    ['-A -t 192.0.2.1:80 -s rr -q', /^rules\.txt:2: Unknown option "-q" in "-A -t 192\.0\.2\.1:80 -s rr -q"$/],
    ['-A -t www.example.org:http -s rr', /Host name "www\.example\.org" in virtual service: names are not resolved, save the rules with "ipvsadm -S -n"/],
    ['-A -t 192.0.2.1:http -s rr', /Service name "http" .* "ipvsadm -S -n"/],
    ['-A -t 192.0.2.1:80 -r 198.51.100.1', /Option "-r" belongs on an -a line/],
    ['-a -t 192.0.2.1:80 -r 198.51.100.1 -s rr', /Option "-s" belongs on an -A line/],
    ['-a -t 192.0.2.1:80 -r 198.51.100.1 -w 70000', /Invalid weight "70000": expected 0\.\.65535/],
    ['-a -t 192.0.2.1:80 -r 198.51.100.1 -m -g', /Conflicting option "-g"/],
    ['-a -t 192.0.2.1:80 -r 198.51.100.1 -i --tun-type gue', /"--tun-type gue" needs --tun-port/],
    ['-a -t 192.0.2.1:80 -r 198.51.100.1 -i --tun-type gre --tun-remcsum', /"--tun-remcsum" is only for gue tunnels/],
    ['-A -t 192.0.2.1:80 -s rr -o', /only for UDP/],
    ['-A -t 192.0.2.1:0 -s rr', /Zero port specified for non-persistent service/],
    ['-A -t 192.0.2.1:80 -6', /"-6" is only for fwmark services/],
    ['-A -t 192.0.2.1:80 -s rr -b sh-port', /Incompatible scheduler flag "sh-port" for scheduler "rr"/],
    ['-A -t 192.0.2.1:80 -s rr -s wlc', /Option "-s" given twice/],
    ['-E -t 192.0.2.1:80 -s rr', /Unsupported command "-E": only -A and -a lines are read/],
    ['-A -s rr', /No virtual service given/],
    ['-a -t 192.0.2.1:80 -w 1', /No real server given/],
    ['-A -t 192.0.2.1:80 -s', /Option "-s" needs a value/],
  ];
  for (const [line, re] of cases) {
    assert.throws(() => parseIpvsadmRules(`-A -u 192.0.2.9:53 -s rr\n${line}\n`, 'rules.txt'), (e: unknown) => {
      assert.ok(e instanceof TslvsError, line);
      assert.equal(e.code, 'TSLVS_ERR_RULES_SYNTAX');
      assert.match(e.message, re, line);
      assert.match(e.message, /^rules\.txt:2: /);
      assert.match(e.hint, /ipvsadm -S -n/);
      return true;
    });
  }
});

// The -R shortcut for ipvsadm-save's -A/-a lines must give exactly the row the full parser
// (command.ts, checked against ipvsadm by the goldens) gives, and must leave every other line,
// including every line ipvsadm refuses, to that parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandToRow } from '../../../src/control/protocol.js';
import { parseCommand } from '../../../src/cli/tslvsadm/command.js';
import { quickRow } from '../../../src/cli/tslvsadm/quick-line.js';
import { NeedLookup, Resolver } from '../../../src/cli/tslvsadm/resolve.js';
import { tokensOf } from '../../../src/cli/tslvsadm/restore.js';
import { GOLDEN_ENV, loadGoldens } from './goldens.js';

const resolver = Resolver.fromEnv(GOLDEN_ENV);

/** What the full parser makes of a -R line: a row, or a description of anything else. */
function slow(line: string): unknown {
  try {
    const out = parseCommand(['ipvsadm', ...tokensOf(line)], { program: 'ipvsadm', resolver, env: GOLDEN_ENV, readingStdin: true });
    return out.kind === 'run' && out.action.type === 'exec' ? commandToRow(out.action.cmd) : { kind: out.kind };
  } catch (e) {
    if (e instanceof NeedLookup) return { kind: 'lookup' };
    throw e;
  }
}

/** Checks one line; returns whether the shortcut took it. */
function check(line: string): boolean {
  const quick = quickRow(line);
  if (quick === null) return false;
  assert.deepEqual(quick, slow(line), JSON.stringify(line));
  return true;
}

test('ipvsadm-save lines of every common shape take the shortcut and give the full parser\'s rows', () => {
  const lines = [
    '-A -t 192.0.2.1:80 -s wlc',
    '-A -u 192.0.2.1:53 -s rr -p 360',
    '-A -t 192.0.2.1:443 -s sh -p',
    '-A -t 192.0.2.1:443 -p 30 -s lblc',
    '-A -t 10.0.0.1:80',
    '-a -t 192.0.2.1:80 -r 198.51.100.1:8080 -m -w 1',
    '-a -t 192.0.2.1:80 -r 198.51.100.1:8080 -g -w 0',
    '-a -u 192.0.2.1:53 -r 198.51.100.1:53 -i -w 2147483647',
    '-a -t 192.0.2.1:80 -r 198.51.100.1:8080',
    '-a -t 192.0.2.1:80 -w 5 -m -r 198.51.100.1:8080',
    '\t-a  -t 192.0.2.1:80\t-r 198.51.100.1:8080 -m -w 3\r',
  ];
  for (const l of lines) assert.ok(check(l), l);
});

test('every -A/-a command line and restore line of the goldens gives the full parser\'s row or is left to it', () => {
  let taken = 0;
  let seen = 0;
  for (const g of loadGoldens()) {
    for (const step of g.steps) {
      const candidates = [step.argv.slice(1).join(' ')];
      if (step.stdin !== null) candidates.push(...step.stdin.split('\n'));
      for (const c of candidates) {
        seen++;
        if (check(c)) taken++;
      }
    }
  }
  assert.ok(seen > 500, `${seen} lines`);
  assert.ok(taken > 20, `${taken} lines took the shortcut`);
});

test('near misses (odd numbers, octal and short addresses, repeated or foreign options, odd values) agree with the full parser', () => {
  const words = [
    '-A', '-a', '-E', '-e', '-t', '-u', '-f', '-s', '-p', '-r', '-g', '-m', '-i', '-w', '-x', '-M', '-6', '-o', '--weight', '-w5', '-srr',
    '192.0.2.1:80', '192.0.2.1', '198.51.100.7:8080', '010.0.0.1:80', '10.1:80', '1.2.3.4:0', '1.2.3.4:65536', '1.2.3.4:080',
    '1.2.3.4:', '256.1.1.1:80', '1.2.3.4:http', '[2001:db8::1]:80', '0.0.0.0:80', '255.255.255.255:1', '1.2.3.4.5:80', ':80',
    'rr', 'wlc', 'ipvsadm', 'abcdefghijklmnopqrstuvwxyz', '-', '--', '#', '30', '0', '00', '7', '2678400', '2678401', '360',
    '2147483647', '2147483648', '00000000001', 'x', '-1', '+5',
  ];
  let seed = 2024;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let taken = 0;
  for (let i = 0; i < 30000; i++) {
    // Mostly well-formed skeletons with one or two words swapped, so that many lines get far.
    const base = rand(2) === 0
      ? ['-A', rand(2) ? '-t' : '-u', '192.0.2.1:80', '-s', 'rr', '-p', '30']
      : ['-a', rand(2) ? '-t' : '-u', '192.0.2.1:80', '-r', '198.51.100.7:8080', ['-g', '-m', '-i'][rand(3)], '-w', '7'];
    const len = 1 + rand(base.length);
    const line = base.slice(0, len);
    for (let k = rand(3); k > 0; k--) line[rand(line.length)] = words[rand(words.length)];
    if (rand(4) === 0) line.push(words[rand(words.length)]);
    if (check(line.join(' '))) taken++;
  }
  assert.ok(taken > 1000, `${taken} lines took the shortcut`);
});

// The C library semantics tslvsadm reproduces: glibc inet_aton/inet_pton/strtol/atoi and the
// services and hosts "files" lookups. Expected values follow glibc's documented behaviour;
// several are also checked against the real ipvsadm by the goldens (service-errors.txt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  atoiU32, HostsFile, inetAton, inetPton4, inetPton6, parseFwmark, ServicesDb, stringToNumber,
} from '../../../src/cli/tslvsadm/resolve.js';

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

test('inet_aton takes 1 to 4 parts in decimal, octal and hex, and ignores text after white space', () => {
  assert.equal(inetAton('10.1'), v4(10, 0, 0, 1));
  assert.equal(inetAton('16909065'), v4(1, 2, 3, 9));
  assert.equal(inetAton('0x7f.1'), v4(127, 0, 0, 1));
  assert.equal(inetAton('0300.0.02.0144'), v4(192, 0, 2, 100));
  assert.equal(inetAton('1.2.3'), v4(1, 2, 0, 3));
  assert.equal(inetAton('1.2.3.4 junk'), v4(1, 2, 3, 4));
  assert.equal(inetAton('1.2.3.4\tx'), v4(1, 2, 3, 4));
  assert.equal(inetAton('0'), 0);
});

test('inet_aton refuses five parts, parts out of range, bad digits and empty text', () => {
  for (const s of ['1.2.3.4.5', '256.1.1.1', '1.2.65536', '4294967296', '08', '0x', '0xc0.0.2.0x', '', '.1', '1..2', '1.2.3.4x', 'a.b.c.d', ' 1.2.3.4']) {
    assert.equal(inetAton(s), null, s);
  }
});

test('inet_pton(AF_INET) wants exactly four decimal octets without leading zeros', () => {
  assert.equal(inetPton4('192.0.2.1'), v4(192, 0, 2, 1));
  assert.equal(inetPton4('0.0.0.0'), 0);
  for (const s of ['01.2.3.4', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.4 ', '10.1']) assert.equal(inetPton4(s), null, s);
});

test('inet_pton(AF_INET6) as glibc: one "::" standing for at least one group, 4 hex digits, dotted tail', () => {
  assert.deepEqual(inetPton6('::'), [0, 0, 0, 0]);
  assert.deepEqual(inetPton6('2001:db8::1'), [0x20010db8, 0, 0, 1]);
  assert.deepEqual(inetPton6('::ffff:192.0.2.4'), [0, 0, 0xffff, v4(192, 0, 2, 4)]);
  assert.deepEqual(inetPton6('1:2:3:4:5:6:7::'), [0x10002, 0x30004, 0x50006, 0x70000]);
  assert.deepEqual(inetPton6('2001:DB8:0:0:0:0:0:13'), [0x20010db8, 0, 0, 0x13]);
  for (const s of ['2001:db8::1::2', '2001:db8:00012::1', '1:2:3:4:5:6:7:8::', '1:2:3:4:5:6:7:8:', ':1::', '1:2:3:4:5:6:7', '::1.2.3', 'fe80::1%eth0', '', '1.2.3.4']) {
    assert.equal(inetPton6(s), null, s);
  }
});

test('string_to_number is strtol base 10 over the whole string, white space and sign allowed in front', () => {
  assert.equal(stringToNumber(' 5', 0, 10), 5);
  assert.equal(stringToNumber('+5', 0, 10), 5);
  assert.equal(stringToNumber('-0', 0, 10), 0);
  assert.equal(stringToNumber('5 ', 0, 10), -1);
  assert.equal(stringToNumber('0x10', 0, 100), -1);
  assert.equal(stringToNumber('', 0, 10), -1);
  assert.equal(stringToNumber('11', 0, 10), -1);
  assert.equal(stringToNumber('99999999999999999999', 0, 2147483647), -1);
  assert.equal(stringToNumber('2147483647', 0, 2147483647), 2147483647);
});

test('fwmarks are 1..4294967295; an IPv6 -M goes through atoi into an unsigned 32-bit field', () => {
  assert.equal(parseFwmark('4294967295'), 4294967295);
  assert.equal(parseFwmark(' 5'), 5);
  for (const s of ['0', '-1', '4294967296', 'abc', '5x']) assert.equal(parseFwmark(s), null, s);
  assert.equal(atoiU32('64abc'), 64);
  assert.equal(atoiU32('4294967297'), 1);
  assert.equal(atoiU32('-5'), 4294967291);
  assert.equal(atoiU32('abc'), 0);
});

test('the services file answers by port and protocol with the first entry, and by name or alias', () => {
  const db = new ServicesDb('# c\nhttp\t80/tcp\twww # web\nhttp-alt 80/tcp\ndomain 53/tcp\ndomain 53/udp\nbogus x/tcp\n');
  assert.equal(db.portToName(80, 'tcp'), 'http');
  assert.equal(db.portToName(80, 'udp'), null);
  assert.equal(db.nameToPort('www', 'tcp'), 80);
  assert.equal(db.nameToPort('domain', 'udp'), 53);
  assert.equal(db.nameToPort('http', 'sctp'), null);
});

test('the hosts file gives the first name of the first line for an address, and the first IPv4 address for a name', () => {
  const h = new HostsFile('127.0.0.1 localhost\n192.0.2.10 rs1.example.org rs1 # x\n192.0.2.11 rs1\n2001:db8::1 v6 rs1\n');
  assert.equal(h.nameOf({ af: 2, w: [v4(192, 0, 2, 10), 0, 0, 0] }), 'rs1.example.org');
  assert.equal(h.addrOf('RS1'), v4(192, 0, 2, 10));
  assert.equal(h.addrOf('v6'), null);
  assert.equal(h.nameOf({ af: 10, w: [0x20010db8, 0, 0, 1] }), 'v6');
});

#!/usr/bin/env python3
"""
Records which real server each IPVS scheduler of the running kernel picks, one golden file per
case (test/golden/sched/<sched>-<case>.txt), replayed against the tslvs core by
test/helpers/golden.ts. Runs as root inside the oracle VM (record-sched.sh starts it there).

Each case runs in a fresh network namespace (unshare), so connection tables, schedulers and
sysctls never leak from one case into the next. Inside it, one dummy link carries the real
servers' subnet (the kernel refuses -g/-i destinations it cannot route to), the VIP subnet and
the clients' subnet (so the ICMP "port unreachable" of "no destination available" can leave).
Packets are raw IPv4/IPv6 TCP/UDP with spoofed client addresses, sent from this process: IPVS
schedules them at LOCAL_OUT exactly as it schedules forwarded traffic. A fwmark is given with
SO_MARK on the raw socket, so no iptables/nft is needed.

What each packet got is read back from the kernel right after the send (synchronous in the
same syscall): the /proc/net/ip_vs_conn entry of its 5-tuple (dest and state), else whether an
ICMP destination-unreachable went out (nodest) or nothing happened (pass).

Usage: record-sched.py OUTDIR [CASE-SUBSTRING...]
"""
import ctypes
import importlib.util
import ipaddress
import os
import re
import socket
import struct
import subprocess
import sys
import time
import traceback

CLONE_NEWNET = 0x40000000
SO_MARK = 36
LIBC = ctypes.CDLL(None, use_errno=True)

SERVERS_NET = ('198.51.100.254/24', '2001:db8:5::fe/64')
VIP_NET = ('192.0.2.254/24', '2001:db8:2::fe/64')
CLIENT_NET = ('203.0.113.254/24', '2001:db8:c::fe/64')

HEADER = ('# Recorded from the real kernel by test/golden/sched/record-sched.sh (do not edit by hand);\n'
          '# replayed against the tslvs core by test/helpers/golden.ts. Format: test/golden/sched/README.md\n')


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def write_sysctl(path, value):
    with open('/proc/sys/' + path, 'w') as fh:
        fh.write('%s\n' % value)


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def fmt_addr(a, port):
    ip = ipaddress.ip_address(a)
    return ('[%s]:%d' % (ip, port)) if ip.version == 6 else ('%s:%d' % (ip, port))


def kernel_line():
    rel = os.uname().release
    ver = open('/proc/version').read().strip()
    m = re.findall(r'Debian (\d+\.\d+\.\d+\S*)', ver)
    return '%s (Debian %s)' % (rel, m[-1]) if m else rel


class Net:
    """A fresh network namespace for one case, with raw sockets opened inside it."""

    def __init__(self):
        if LIBC.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), 'unshare(CLONE_NEWNET)')
        cmds = ['link set lo up', 'link add d0 type dummy', 'link set d0 up']
        cmds += ['addr add %s dev d0%s' % (a, ' nodad' if ':' in a else '') for a in SERVERS_NET + VIP_NET + CLIENT_NET]
        r = subprocess.run(['ip', '-batch', '-'], input='\n'.join(cmds) + '\n', capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError('ip -batch: ' + r.stderr)
        # Every ICMP error counts: no per-host or global rate limit on "port unreachable".
        write_sysctl('net/ipv4/icmp_ratemask', 0)
        write_sysctl('net/ipv6/icmp/ratelimit', 0)
        self.raw4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.mark = {4: 0, 6: 0}
        self.cap = None

    def close(self):
        if self.cap is not None:
            self.cap.close()
        self.raw4.close()
        self.raw6.close()

    def icmp_unreach(self):
        n = 0
        lines = open('/proc/net/snmp').read().splitlines()
        for i in range(0, len(lines) - 1, 2):
            if lines[i].startswith('Icmp:'):
                keys, vals = lines[i].split()[1:], lines[i + 1].split()[1:]
                n += int(dict(zip(keys, vals))['OutDestUnreachs'])
        for line in open('/proc/net/snmp6').read().splitlines():
            f = line.split()
            if f and f[0] == 'Icmp6OutDestUnreachs':
                n += int(f[1])
        return n

    def send(self, proto, src, sport, dst, dport, flags, mark):
        v = ipaddress.ip_address(src).version
        s = self.raw4 if v == 4 else self.raw6
        if self.mark[v] != mark:
            s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
            self.mark[v] = mark
        sa, da = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
        if proto == 'tcp':
            f = sum({'F': 1, 'S': 2, 'R': 4, 'P': 8, 'A': 16}[c] for c in flags)
            seq = 1000 if 'S' in flags else 1001
            ack = 0 if flags == 'S' else 1
            l4 = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, f, 65535, 0, 0)
            pnum = 6
        else:
            data = b'0123456789'
            l4 = struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data
            pnum = 17
        ph = (sa + da + struct.pack('!BBH', 0, pnum, len(l4))) if v == 4 else \
            (sa + da + struct.pack('!I3xB', len(l4), pnum))
        c = csum(ph + l4)
        if pnum == 17 and c == 0:
            c = 0xffff
        off = 16 if pnum == 6 else 6
        l4 = l4[:off] + struct.pack('!H', c) + l4[off + 2:]
        if v == 4:
            h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0x4000, 64, pnum, 0, sa, da)
            h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
        else:
            h = struct.pack('!IHBB16s16s', 6 << 28, len(l4), pnum, 64, sa, da)
        try:
            s.sendto(h + l4, (dst, 0))
        except PermissionError:  # a netfilter hook (IPVS) dropped it
            return False
        return True


def parse_hexaddr(h):
    if ':' in h or len(h) > 8:
        return str(ipaddress.ip_address(h))
    return str(ipaddress.IPv4Address(int(h, 16)))


def read_conns():
    out = []
    for line in open('/proc/net/ip_vs_conn').read().splitlines()[1:]:
        f = line.split()
        if len(f) < 9:
            continue
        out.append({'proto': f[0], 'caddr': parse_hexaddr(f[1]), 'cport': int(f[2], 16),
                    'vaddr': parse_hexaddr(f[3]), 'vport': int(f[4], 16),
                    'daddr': parse_hexaddr(f[5]), 'dport': int(f[6], 16), 'state': f[7],
                    'expires': int(f[8])})
    return out


def read_services():
    """/proc/net/ip_vs: services with their destinations in the kernel's list order."""
    svcs = []
    for line in open('/proc/net/ip_vs').read().splitlines()[3:]:
        f = line.split()
        if not f:
            continue
        if f[0] == '->':
            m = re.match(r'^\[?(.*?)\]?:([0-9A-F]{4})$', f[1])
            svcs[-1]['dests'].append({'addr': parse_hexaddr(m.group(1)), 'port': int(m.group(2), 16),
                                      'fwd': f[2], 'weight': int(f[3]), 'active': int(f[4]),
                                      'inact': int(f[5])})
        elif f[0] == 'FWM':
            svcs.append({'id': 'FWM %d' % int(f[1], 16), 'sched': f[2], 'dests': []})
        else:
            m = re.match(r'^\[?(.*?)\]?:([0-9A-F]{4})$', f[1])
            svcs.append({'id': '%s %s' % (f[0], fmt_addr(parse_hexaddr(m.group(1)), int(m.group(2), 16))),
                         'sched': f[2], 'dests': []})
    return svcs


class Case:
    """One golden: steps are executed at once and written with what the kernel did."""

    def __init__(self, name, title, net):
        self.name = name
        self.net = net
        self.lines = ['kernel ' + kernel_line(), 'title ' + title]
        self.t0 = time.monotonic()
        self.known = {}  # daddr -> set of configured dest ports seen in this case

    def now_ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    def comment(self, text):
        self.lines.append('# ' + text)

    def _learn(self):
        for s in read_services():
            for d in s['dests']:
                self.known.setdefault(d['addr'], set()).add(d['port'])

    def ipvsadm(self, args):
        rc, out = run(['ipvsadm'] + args.split())
        res = 'ok' if rc == 0 else 'exit %d: %s' % (rc, ' / '.join(out.splitlines()))
        self.lines.append('ipvsadm %s => %s' % (args, res))
        self._learn()
        return rc

    def sysctl(self, name, value):
        write_sysctl('net/ipv4/vs/' + name, value)
        self.lines.append('sysctl %s=%s' % (name, value))

    def sleep(self, s):
        time.sleep(s)

    def _dest_name(self, c):
        ports = self.known.get(c['daddr'], set())
        port = c['dport'] if (c['dport'] in ports or not ports) else (0 if 0 in ports else c['dport'])
        return fmt_addr(c['daddr'], port)

    def _result(self, proto, src, sport, dst, dport, icmp_before, sent):
        pname = proto.upper()
        key = (pname, src, sport, dst, dport)
        for attempt in range(5):
            m = [c for c in read_conns() if (c['proto'], c['caddr'], c['cport'], c['vaddr'], c['vport']) == key]
            if len(m) <= 1 and not any(c['expires'] == 0 for c in m):
                break
            # An entry expired at once (conn reuse, expire_nodest_conn) is freed by its timer a
            # jiffy later: wait for it, so that only what the packet left behind is reported.
            time.sleep(0.05)
        if m:
            conn = ','.join('%s %s' % (self._dest_name(c), c['state']) for c in m)
            return conn if sent else 'drop ' + conn
        if self.net.icmp_unreach() > icmp_before:
            return 'nodest'
        return 'pass' if sent else 'drop'

    def one_packet(self, on=True):
        """
        Packets to -o (one-packet) services leave no entry in /proc/net/ip_vs_conn: capture what
        leaves d0 instead. Use masquerading destinations there, so the packet names its server.
        """
        if on and self.net.cap is None:
            self.net.cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
            self.net.cap.bind(('d0', 0))
            self.net.cap.setblocking(False)
        self.ops = on

    def _captured(self):
        """(dst, dport) of every IPv4 TCP/UDP packet captured on d0 since the last call."""
        out = []
        while True:
            try:
                b = self.net.cap.recv(65535)
            except BlockingIOError:
                return out
            if len(b) >= 24 and b[0] >> 4 == 4:
                ihl = (b[0] & 15) * 4
                out.append((b[9], str(ipaddress.IPv4Address(b[12:16])), struct.unpack('!H', b[ihl:ihl + 2])[0],
                            str(ipaddress.IPv4Address(b[16:20])), struct.unpack('!H', b[ihl + 2:ihl + 4])[0]))

    def pkt(self, proto, src, sport, dst, dport, flags='', mark=0):
        src = str(ipaddress.ip_address(src))
        dst = str(ipaddress.ip_address(dst))
        before = self.net.icmp_unreach()
        ops = getattr(self, 'ops', False)
        if ops:
            self._captured()
        t = self.now_ms()
        sent = self.net.send(proto, src, sport, dst, dport, flags, mark)
        res = self._result(proto, src, sport, dst, dport, before, sent)
        if ops and res == 'pass':
            # No entry left: a one-packet connection was made, used and freed within the send.
            time.sleep(0.02)
            pnum = 6 if proto == 'tcp' else 17
            out = [(d, dp) for (pr, s_, sp, d, dp) in self._captured() if (pr, s_, sp) == (pnum, src, sport) and d != dst]
            if len(out) == 1:
                res = '%s -' % self._dest_name({'daddr': out[0][0], 'dport': out[0][1]})
        parts = [proto, fmt_addr(src, sport), fmt_addr(dst, dport)]
        if proto == 'tcp':
            parts.append(flags)
        if mark:
            parts.append('mark=%d' % mark)
        parts.append('@%d' % t)
        self.lines.append('%s => %s' % (' '.join(parts), res))
        return res

    def tcp(self, src, sport, dst, dport, flags='S', mark=0):
        return self.pkt('tcp', src, sport, dst, dport, flags, mark)

    def udp(self, src, sport, dst, dport, mark=0):
        return self.pkt('udp', src, sport, dst, dport, '', mark)

    def dests(self):
        """Every service's destinations in list order with weight and connection counters."""
        for s in sorted(read_services(), key=lambda s: s['id']):  # /proc lists them in hash order
            ds = ' '.join('%s/w%d/a%d/i%d' % (fmt_addr(d['addr'], d['port']), d['weight'], d['active'], d['inact'])
                          for d in s['dests'])
            self.lines.append('dests %s %s => %s' % (s['id'], s['sched'], ds or '-'))

    def text(self):
        return HEADER + '\n'.join(self.lines) + '\n'


def load_cases(path):
    spec = importlib.util.spec_from_file_location('sched_cases', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CASES


def main():
    outdir = sys.argv[1]
    filters = sys.argv[2:]
    here = os.path.dirname(os.path.abspath(__file__))
    cases = load_cases(os.path.join(here, 'sched-cases.py'))
    os.makedirs(outdir, exist_ok=True)
    failed = 0
    for name, title, fn in cases:
        if filters and not any(f in name for f in filters):
            continue
        t = time.monotonic()
        net = Net()
        c = Case(name, title, net)
        try:
            fn(c)
            c.dests()
        except Exception as e:  # keep recording the other cases; report this one
            failed += 1
            print('FAIL %s: %r' % (name, e), flush=True)
            traceback.print_exc()
            net.close()
            continue
        net.close()
        with open(os.path.join(outdir, name + '.txt'), 'w') as fh:
            fh.write(c.text())
        print('ok %s (%d lines, %.1fs)' % (name, len(c.lines), time.monotonic() - t), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()

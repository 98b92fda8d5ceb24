#!/usr/bin/env python3
"""
Records what the running kernel's IPVS connection layer does, one golden file per case
(test/golden/conn/<case>.txt), replayed against the tslvs core by
test/core/conn/goldens.test.ts. Runs as root inside the oracle VM (record-conn.sh starts it).

Each case runs in a fresh network namespace (unshare), so the connection table, the timeouts
and the sysctls start from the defaults. One dummy link carries the real servers' subnet
(198.51.100.0/24), the VIPs' (192.0.2.0/24) and the clients' (203.0.113.0/24), plus IPv6
2001:db8:5::/64, 2001:db8:2::/64, 2001:db8:c::/64.

Packets are raw IPv4/IPv6 TCP/UDP/SCTP with spoofed addresses sent from this process at
LOCAL_OUT, where IPVS runs ip_vs_out_hook and then ip_vs_in_hook, exactly as for traffic from
outside: a client packet is scheduled and forwarded; a packet "from a real server" to a client
is a NAT reply (SNAT, OUTPUT state rows). `EPERM` means a netfilter hook dropped the packet
(IPVS: deleted destination, no destination + ICMP, drop_packet).

After a step the case may print the connection table (`ipvsadm -L -n -c`), the destination
counters (`ipvsadm -L -n --persistent-conn`) or the statistics (`ipvsadm -L -n --stats
--exact` and /proc/net/ip_vs_stats), each in a canonical form (see README.md).

Usage: record-conn.py OUTDIR [CASE-SUBSTRING...]
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

NETS = ('198.51.100.254/24', '192.0.2.254/24', '203.0.113.254/24',
        '2001:db8:5::fe/64', '2001:db8:2::fe/64', '2001:db8:c::fe/64')

HEADER = ('# Recorded from the real kernel by test/golden/conn/record-conn.sh (do not edit by hand);\n'
          '# replayed against the tslvs core by test/core/conn/goldens.test.ts. Format: test/golden/conn/README.md\n')

SCTP_CHUNKS = {'DATA': 0, 'INIT': 1, 'INIT_ACK': 2, 'ABORT': 6, 'SHUTDOWN': 7, 'SHUTDOWN_ACK': 8,
               'COOKIE_ECHO': 10, 'COOKIE_ACK': 11, 'SHUTDOWN_COMPLETE': 14}


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


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


def split_hp(s):
    m = re.match(r'^\[(.+)\]:(\d+)$', s) or re.match(r'^([^:]+):(\d+)$', s)
    return str(ipaddress.ip_address(m.group(1))), int(m.group(2))


def parse_hexaddr(h):
    if ':' in h:
        return str(ipaddress.ip_address(h))
    return str(ipaddress.IPv4Address(int(h, 16)))


def fmt_hp(a, port):
    return ('[%s]:%d' % (a, port)) if ':' in a else ('%s:%d' % (a, port))


def read_jiffies():
    try:
        m = re.search(r'^jiffies: (\d+)', open('/proc/timer_list').read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


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
        cmds += ['addr add %s dev d0%s' % (a, ' nodad' if ':' in a else '') for a in NETS]
        r = subprocess.run(['ip', '-batch', '-'], input='\n'.join(cmds) + '\n', capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError('ip -batch: ' + r.stderr)
        write_sysctl('net/ipv4/icmp_ratemask', 0)
        write_sysctl('net/ipv6/icmp/ratelimit', 0)
        self.raw = {4: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW),
                    6: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)}
        self.mark = {4: 0, 6: 0}

    def close(self):
        for s in self.raw.values():
            s.close()

    def send(self, v, src, dst, pnum, l4, mark):
        s = self.raw[v]
        if self.mark[v] != mark:
            s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
            self.mark[v] = mark
        sa, da = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
        if v == 4:
            h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0x4000, 64, pnum, 0, sa, da)
            h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
        else:
            h = struct.pack('!IHBB16s16s', 6 << 28, len(l4), pnum, 64, sa, da)
        try:
            s.sendto(h + l4, (dst, 0))
        except PermissionError:  # a netfilter hook (IPVS) dropped it
            return False, len(h) + len(l4)
        return True, len(h) + len(l4)


def l4_checksum(v, src, dst, pnum, l4, off):
    sa, da = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    ph = (sa + da + struct.pack('!BBH', 0, pnum, len(l4))) if v == 4 else (sa + da + struct.pack('!I3xB', len(l4), pnum))
    c = csum(ph + l4)
    if pnum == 17 and c == 0:
        c = 0xffff
    return l4[:off] + struct.pack('!H', c) + l4[off + 2:]


class Case:
    """One golden: steps run at once and are written with what the kernel did."""

    def __init__(self, name, title, net):
        self.name = name
        self.net = net
        self.lines = ['kernel ' + kernel_line(), 'title ' + title]
        self.t0 = time.monotonic()
        j = read_jiffies()
        if j is not None:
            # The kernel's jiffies at @0: timer-wheel buckets are aligned on absolute jiffies.
            self.lines.append('jiffies %d' % j)

    def now_ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    def comment(self, text):
        self.lines.append('# ' + text)

    def ipvsadm(self, args):
        rc, out, err = run(['ipvsadm'] + args.split())
        res = 'ok' if rc == 0 else 'exit %d: %s' % (rc, ' / '.join((out + err).strip().splitlines()))
        self.lines.append('ipvsadm %s => %s' % (args, res))
        return rc

    def sysctl(self, name, value):
        write_sysctl('net/ipv4/vs/' + name, value)
        self.lines.append('sysctl %s=%s' % (name, value))

    def sleep(self, s):
        time.sleep(s)

    def _pkt(self, proto, src, dst, pnum, l4, off, desc, mark):
        (sa, sp), (da, dp) = split_hp(src), split_hp(dst)
        v = ipaddress.ip_address(sa).version
        if off is not None:
            l4 = l4_checksum(v, sa, da, pnum, l4, off)
        t0 = time.monotonic()
        ok, n = self.net.send(v, sa, da, pnum, l4, mark)
        t = int(((t0 + time.monotonic()) / 2 - self.t0) * 1000)
        parts = [proto, src, dst] + desc + ['len=%d' % n]
        if mark:
            parts.append('mark=%d' % mark)
        parts.append('@%d' % t)
        self.lines.append('%s => %s' % (' '.join(parts), 'ok' if ok else 'EPERM'))

    def tcp(self, src, dst, flags, data=0, mark=0):
        """A TCP segment; flags as letters S A F R P (a bare '-' for none)."""
        (_, sp), (_, dp) = split_hp(src), split_hp(dst)
        f = sum({'F': 1, 'S': 2, 'R': 4, 'P': 8, 'A': 16}.get(c, 0) for c in flags)
        l4 = struct.pack('!HHIIBBHHH', sp, dp, 1000, 1 if f & 16 else 0, 5 << 4, f, 65535, 0, 0) + b'x' * data
        self._pkt('tcp', src, dst, 6, l4, 16, [flags], mark)

    def udp(self, src, dst, data=10, mark=0):
        (_, sp), (_, dp) = split_hp(src), split_hp(dst)
        l4 = struct.pack('!HHHH', sp, dp, 8 + data, 0) + b'y' * data
        self._pkt('udp', src, dst, 17, l4, 6, [], mark)

    def sctp(self, src, dst, chunk, then=None):
        """An SCTP packet whose first chunk is `chunk` (optionally followed by chunk `then`)."""
        (_, sp), (_, dp) = split_hp(src), split_hp(dst)
        body = {'INIT': 16, 'INIT_ACK': 16, 'COOKIE_ECHO': 4, 'DATA': 16}.get(chunk, 0)
        ch = struct.pack('!BBH', SCTP_CHUNKS[chunk], 0, 4 + body) + b'\0' * body
        if then:
            ch += struct.pack('!BBH', SCTP_CHUNKS[then], 0, 4)
        l4 = struct.pack('!HHII', sp, dp, 0, 0) + ch
        self._pkt('sctp', src, dst, 132, l4, None, [chunk + ('+' + then if then else '')], 0)

    def _settle(self):
        # An entry expired "now" (conn reuse, expire_nodest_conn) is freed by its timer a jiffy
        # later, and a dest deletion's flush runs as delayed work: let them happen first.
        time.sleep(0.05)

    def conns(self):
        """
        The entries as `ipvsadm -L -n -c` prints them, read straight from /proc/net/ip_vs_conn
        (the time stamp is the time of the read: ipvsadm itself takes long to start in the VM).
        """
        self._settle()
        rows = []
        t0 = time.monotonic()
        text = open('/proc/net/ip_vs_conn').read()
        t = int(((t0 + time.monotonic()) / 2 - self.t0) * 1000)
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) < 9:
                continue
            hp = lambda a, p: fmt_hp(parse_hexaddr(a), int(p, 16))
            left = int(f[8])
            rows.append('%-3s %-6s %-11s %-18s %-18s %s' % (
                f[0], '%02d:%02d' % (left // 60, left % 60), f[7], hp(f[1], f[2]), hp(f[3], f[4]), hp(f[5], f[6])))
        self.lines.append('conns @%d =>' % t)
        self.lines += ['  ' + r for r in sorted(rows)]

    def dests(self):
        """
        Every service with its destinations: weight, PersistConn, ActiveConn, InActConn.
        Weight and the connection counts come from /proc/net/ip_vs, read at the time stamp;
        PersistConn only `ipvsadm -L -n --persistent-conn` shows (ipvsadm is slow to start in
        the VM, so the cases never list while a template is about to expire).
        """
        self._settle()
        blocks = {}
        cur = None
        t0 = time.monotonic()
        text = open('/proc/net/ip_vs').read()
        t = int(((t0 + time.monotonic()) / 2 - self.t0) * 1000)
        for l in text.splitlines()[3:]:
            f = l.split()
            if not f:
                continue
            if f[0] == '->':
                a, p = re.match(r'^\[?(.*?)\]?:([0-9A-F]{4})$', f[1]).groups()
                blocks[cur].append([fmt_hp(parse_hexaddr(a), int(p, 16)), f[3], f[4], f[5]])
            else:
                if f[0] == 'FWM':
                    cur = 'FWM %d' % int(f[1], 16)
                else:
                    a, p = re.match(r'^\[?(.*?)\]?:([0-9A-F]{4})$', f[1]).groups()
                    cur = '%s %s' % (f[0], fmt_hp(parse_hexaddr(a), int(p, 16)))
                blocks[cur] = []
        rc, out, err = run(['ipvsadm', '-L', '-n', '--persistent-conn'])
        persist = {}
        head = None
        for l in out.splitlines()[3:]:
            f = l.split()
            if not f:
                continue
            if f[0] == '->':
                persist[(head, f[1])] = f[3]
            else:
                head = '%s %s' % (f[0], f[1])
        self.lines.append('dests @%d =>' % t)
        for head in sorted(blocks):
            self.lines.append('  ' + head)
            rows = ['-> %s w%s p%s a%s i%s' % (d[0], d[1], persist.get((head, d[0]), '?'), d[2], d[3]) for d in blocks[head]]
            self.lines += ['    ' + r for r in sorted(rows)]

    def stats(self):
        self._settle()
        t = self.now_ms()
        rc, out, err = run(['ipvsadm', '-L', '-n', '--stats', '--exact'])
        blocks = []
        for l in out.splitlines()[3:]:
            f = l.split()
            if not f:
                continue
            if f[0] == '->':
                blocks[-1][1].append('-> %s c%s ip%s op%s ib%s ob%s' % tuple(f[1:7]))
            else:
                blocks.append(('%s %s c%s ip%s op%s ib%s ob%s' % tuple(f[0:7]), []))
        tot = open('/proc/net/ip_vs_stats').read().splitlines()[2].split()
        self.lines.append('stats @%d =>' % t)
        for head, ds in sorted(blocks):
            self.lines.append('  ' + head)
            self.lines += ['    ' + d for d in sorted(ds)]
        self.lines.append('  total c%d ip%d op%d ib%d ob%d' % tuple(int(x, 16) for x in tot[:5]))

    def text(self):
        return HEADER + '\n'.join(self.lines) + '\n'


def load_cases(path):
    spec = importlib.util.spec_from_file_location('conn_cases', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CASES


def main():
    outdir = sys.argv[1]
    filters = sys.argv[2:]
    here = os.path.dirname(os.path.abspath(__file__))
    cases = load_cases(os.path.join(here, 'conn-cases.py'))
    os.makedirs(outdir, exist_ok=True)
    failed = 0
    for name, title, fn in cases:
        if filters and not any(f in name for f in filters):
            continue
        t = time.monotonic()
        # Each case in a child process, so that each gets its own fresh namespace.
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(r)
            code = 0
            try:
                net = Net()
                c = Case(name, title, net)
                fn(c)
                net.close()
                with open(os.path.join(outdir, name + '.txt'), 'w') as fh:
                    fh.write(c.text())
                os.write(w, ('ok %s (%d lines, %.1fs)\n' % (name, len(c.lines), time.monotonic() - t)).encode())
            except Exception as e:
                os.write(w, ('FAIL %s: %r\n%s' % (name, e, traceback.format_exc())).encode())
                code = 1
            os._exit(code)
        os.close(w)
        msg = b''
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            msg += b
        os.close(r)
        _, status = os.waitpid(child, 0)
        if status != 0:
            failed += 1
        print(msg.decode().rstrip(), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()

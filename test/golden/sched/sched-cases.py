"""
The scheduler cases recorded by record-sched.py: each function drives one fresh network
namespace through `c` (ipvsadm commands, packets, sysctls) and becomes <name>.txt.

Addresses: VIPs 192.0.2.0/24 (2001:db8:2::/64), real servers 198.51.100.0/24 (2001:db8:5::/64),
clients 203.0.113.0/24 (2001:db8:c::/64). Destinations are named A, B, C... = .11, .12, .13...
TCP SYNs to DR servers that never answer stay SYN_RECV (active); UDP datagrams are inactive
connections; a FIN moves a SYN_RECV connection to TIME_WAIT (inactive). Every case stays well
under 60 s so no SYN_RECV entry expires while it runs.
"""

CASES = []


def case(name, title):
    def deco(fn):
        CASES.append((name, title, fn))
        return fn
    return deco


VIP = '192.0.2.1'
CLI = '203.0.113.1'
A, B, C, D, E = ('198.51.100.%d' % i for i in range(11, 16))
T80 = '-t %s:80' % VIP
U53 = '-u %s:53' % VIP


def rs(n):
    return '198.51.100.%d' % (11 + n)


def clients(n, first=1):
    return ['203.0.113.%d' % i for i in range(first, first + n)]


def svc(c, spec, sched, extra=''):
    c.ipvsadm(('-A %s -s %s %s' % (spec, sched, extra)).strip())


def fwd(extra):
    return '' if ('-m' in extra.split() or '-i' in extra.split()) else '-g '


def add(c, spec, addr, w=1, extra=''):
    c.ipvsadm(('-a %s -r %s %s-w %d %s' % (spec, addr, fwd(extra), w, extra)).strip())


def edit(c, spec, addr, w=1, extra=''):
    c.ipvsadm(('-e %s -r %s %s-w %d %s' % (spec, addr, fwd(extra), w, extra)).strip())


def dele(c, spec, addr):
    c.ipvsadm('-d %s -r %s' % (spec, addr))


class Ports:
    """Fresh client source ports for one case, so every packet opens a new connection."""

    def __init__(self, first=40000):
        self.next = first

    def take(self):
        p = self.next
        self.next += 1
        return p


def syns(c, ports, n, vip=VIP, vport=80, client=CLI, mark=0):
    """n SYNs from new ports; returns the ports used, in order."""
    used = []
    for _ in range(n):
        p = ports.take()
        c.tcp(client, p, vip, vport, 'S', mark=mark)
        used.append(p)
    return used


def udps(c, ports, n, vip=VIP, vport=53, client=CLI, mark=0):
    used = []
    for _ in range(n):
        p = ports.take()
        c.udp(client, p, vip, vport, mark=mark)
        used.append(p)
    return used


def fins(c, used, vip=VIP, vport=80, client=CLI):
    for p in used:
        c.tcp(client, p, vip, vport, 'F')


def three(c, spec, sched, weights, extra='', fwd=''):
    svc(c, spec, sched, extra)
    for i, w in enumerate(weights):
        add(c, spec, rs(i), w, fwd)


# ---------------------------------------------------------------------------------------------
# rr

@case('rr-three-tcp', 'rr: three destinations, newest first, one SYN per new port')
def _(c):
    p = Ports()
    three(c, T80, 'rr', [1, 1, 1])
    syns(c, p, 10)


@case('rr-udp-weights', 'rr: weights other than 0 do not matter, weight 0 is skipped (UDP)')
def _(c):
    p = Ports()
    three(c, U53, 'rr', [1, 5, 0])
    add(c, U53, D, 2)
    udps(c, p, 9)


@case('rr-edit-weight', 'rr: -e weight 0 and back in the middle of a sequence keeps the cursor')
def _(c):
    p = Ports()
    three(c, T80, 'rr', [1, 1, 1])
    syns(c, p, 4)
    edit(c, T80, B, 0)
    syns(c, p, 4)
    edit(c, T80, B, 3)
    syns(c, p, 4)
    c.ipvsadm('-e %s -r %s' % (T80, C))  # -e without -w: weight back to 1
    syns(c, p, 3)
    edit(c, T80, A, 0)
    edit(c, T80, C, 0)
    syns(c, p, 3)


@case('rr-delete-readd', 'rr: deleting the cursor destination, deleting others, re-adding (to the list head)')
def _(c):
    p = Ports()
    svc(c, T80, 'rr')
    for i in range(4):
        add(c, T80, rs(i))
    syns(c, p, 2)
    dele(c, T80, C)  # the destination picked last
    syns(c, p, 3)
    dele(c, T80, A)
    syns(c, p, 2)
    add(c, T80, C)
    syns(c, p, 3)
    add(c, T80, A, 2)
    syns(c, p, 4)
    dele(c, T80, D)
    dele(c, T80, B)
    syns(c, p, 3)


@case('rr-thresholds', 'rr: -x/-y make destinations overloaded; FIN, RST and new limits release them')
def _(c):
    p = Ports()
    svc(c, T80, 'rr')
    add(c, T80, A, 1, '-x 3')
    add(c, T80, B, 1, '-x 2 -y 1')
    used = syns(c, p, 8)
    fins(c, used[:2])
    syns(c, p, 3)
    c.tcp(CLI, used[3], VIP, 80, 'R')
    syns(c, p, 2)
    edit(c, T80, A, 1, '-x 10')
    syns(c, p, 3)
    edit(c, T80, B, 1, '-x 0')
    syns(c, p, 3)


@case('rr-nodest', 'rr: no destination, only weight 0, then one usable, then deleted again')
def _(c):
    p = Ports()
    svc(c, T80, 'rr')
    syns(c, p, 2)
    add(c, T80, A, 0)
    add(c, T80, B, 0)
    syns(c, p, 2)
    edit(c, T80, B, 1)
    syns(c, p, 3)
    dele(c, T80, B)
    syns(c, p, 2)
    svc(c, U53, 'rr')
    udps(c, p, 2)


@case('rr-conn-reuse', 'rr: packets of existing connections keep their destination; SYN on TIME_WAIT is rescheduled')
def _(c):
    p = Ports()
    three(c, T80, 'rr', [1, 1, 1])
    used = syns(c, p, 3)
    for port in used:
        c.tcp(CLI, port, VIP, 80, 'A')
    c.tcp(CLI, used[0], VIP, 80, 'S')  # retransmitted SYN: same connection
    c.tcp(CLI, used[1], VIP, 80, 'F')
    c.tcp(CLI, used[1], VIP, 80, 'S')  # new connection on a TIME_WAIT one: scheduled again
    syns(c, p, 2)
    c.tcp(CLI, p.take(), VIP, 80, 'A')  # no connection, not a SYN: not scheduled
    c.tcp(CLI, p.take(), VIP, 80, 'F')


@case('rr-persist', 'rr -p: one template per client address; ports of a client stick; quiesced destination keeps its clients')
def _(c):
    p = Ports()
    svc(c, T80, 'rr', '-p 60')
    add(c, T80, A)
    add(c, T80, B)
    add(c, T80, C)
    cl = clients(5)
    for k in range(2):
        for x in cl:
            c.tcp(x, p.take(), VIP, 80, 'S')
    edit(c, T80, C, 0)
    for x in cl:
        c.tcp(x, p.take(), VIP, 80, 'S')
    for x in clients(3, 10):
        c.tcp(x, p.take(), VIP, 80, 'S')
    dele(c, T80, B)
    for x in cl:
        c.tcp(x, p.take(), VIP, 80, 'S')


@case('rr-persist-mask', 'rr -p -M 255.255.255.128: clients in one half of the /24 share a template')
def _(c):
    p = Ports()
    svc(c, U53, 'rr', '-p 120 -M 255.255.255.128')
    add(c, U53, A)
    add(c, U53, B)
    for x in ['203.0.113.1', '203.0.113.200', '203.0.113.5', '203.0.113.129', '203.0.113.127',
              '203.0.113.128', '203.0.113.254', '203.0.113.0']:
        c.udp(x, p.take(), VIP, 53)
    svc(c, T80, 'rr', '-p -M 255.255.0.0')
    add(c, T80, C)
    add(c, T80, D)
    add(c, T80, E)
    for x in ['203.0.113.1', '203.0.113.200', '198.51.100.99', '192.0.2.99', '203.0.113.9', '192.0.2.7']:
        c.tcp(x, p.take(), VIP, 80, 'S')


@case('rr-persist-port0', 'rr -p on port 0: every port of the VIP shares the client template')
def _(c):
    p = Ports()
    svc(c, '-t %s:0' % VIP, 'rr', '-p 30')
    add(c, '-t %s:0' % VIP, A)
    add(c, '-t %s:0' % VIP, B)
    for x in clients(3):
        for port in (22, 80, 443):
            c.tcp(x, p.take(), VIP, port, 'S')
    svc(c, T80, 'rr')  # an exact service wins over the port-0 one
    add(c, T80, C)
    c.tcp('203.0.113.1', p.take(), VIP, 80, 'S')
    c.tcp('203.0.113.1', p.take(), VIP, 81, 'S')


@case('rr-fwmark', 'rr on fwmark services: any address and port with the mark; no mark or another mark is not scheduled')
def _(c):
    p = Ports()
    svc(c, '-f 7', 'rr')
    add(c, '-f 7', A)
    add(c, '-f 7', B)
    svc(c, '-f 9', 'rr')
    add(c, '-f 9', C)
    for k, (dst, port) in enumerate([('192.0.2.10', 80), ('192.0.2.11', 443), ('192.0.2.12', 22), ('192.0.2.10', 80)]):
        c.tcp(CLI, p.take(), dst, port, 'S', mark=7)
        c.udp(CLI, p.take(), dst, 53, mark=7)
    c.tcp(CLI, p.take(), '192.0.2.10', 80, 'S', mark=9)
    c.tcp(CLI, p.take(), '192.0.2.10', 80, 'S', mark=8)
    c.tcp(CLI, p.take(), '192.0.2.10', 80, 'S')


@case('rr-edit-sched', 'rr: -E with the same scheduler keeps the cursor; -E to another restarts it')
def _(c):
    p = Ports()
    three(c, T80, 'rr', [1, 2, 3])
    syns(c, p, 2)
    c.ipvsadm('-E %s -s rr' % T80)
    syns(c, p, 2)
    c.ipvsadm('-E %s -s wrr' % T80)
    syns(c, p, 4)
    c.ipvsadm('-E %s -s rr' % T80)
    syns(c, p, 4)
    c.ipvsadm('-E %s' % T80)  # no -s: wlc
    syns(c, p, 3)


# ---------------------------------------------------------------------------------------------
# wrr

@case('wrr-432', 'wrr: weights 4,3,2 added in that order (the first pass uses the cw left by the adds)')
def _(c):
    p = Ports()
    three(c, U53, 'wrr', [4, 3, 2])
    udps(c, p, 27)


@case('wrr-edit-weight', 'wrr: -e weight 0, then 6, in the middle of the cycle')
def _(c):
    p = Ports()
    three(c, U53, 'wrr', [4, 3, 2])
    udps(c, p, 11)
    edit(c, U53, B, 0)
    udps(c, p, 12)
    edit(c, U53, B, 6)
    udps(c, p, 13)
    edit(c, U53, A, 1)
    udps(c, p, 6)


@case('wrr-gcd', 'wrr: weights 4,2,6 (gcd 2), then 9 added (gcd 1), then 6 edited to 3')
def _(c):
    p = Ports()
    three(c, U53, 'wrr', [4, 2, 6])
    udps(c, p, 14)
    add(c, U53, D, 9)
    udps(c, p, 10)
    edit(c, U53, C, 3)
    udps(c, p, 10)


@case('wrr-E-from-rr', 'wrr: an rr service switched with -E -s wrr starts a full cycle at once')
def _(c):
    p = Ports()
    three(c, U53, 'rr', [4, 3, 2])
    udps(c, p, 2)
    c.ipvsadm('-E %s -s wrr' % U53)
    udps(c, p, 18)


@case('wrr-equal', 'wrr: equal weights 3,3,3 (gcd 3) behave as rr; then 3,3,3,1')
def _(c):
    p = Ports()
    three(c, T80, 'wrr', [3, 3, 3])
    syns(c, p, 7)
    add(c, T80, D, 1)
    syns(c, p, 11)


@case('wrr-delete-add', 'wrr: deleting the current destination and adding one mid-cycle resets the position')
def _(c):
    p = Ports()
    three(c, U53, 'wrr', [5, 1, 3])
    udps(c, p, 7)
    dele(c, U53, C)
    udps(c, p, 7)
    add(c, U53, C, 2)
    udps(c, p, 9)
    add(c, U53, D, 8)
    udps(c, p, 9)


@case('wrr-overload', 'wrr: thresholds make destinations overloaded until no destination is left')
def _(c):
    p = Ports()
    svc(c, T80, 'wrr')
    add(c, T80, A, 3, '-x 2')
    add(c, T80, B, 2, '-x 3')
    add(c, T80, C, 1, '-x 1')
    used = syns(c, p, 9)
    fins(c, used[:1])
    syns(c, p, 2)
    edit(c, T80, C, 1, '-x 0')
    syns(c, p, 4)


@case('wrr-zero', 'wrr: all weights 0 is "no destination"; one weight back starts again')
def _(c):
    p = Ports()
    three(c, U53, 'wrr', [0, 0, 0])
    udps(c, p, 2)
    edit(c, U53, B, 2)
    udps(c, p, 3)
    edit(c, U53, A, 1)
    udps(c, p, 6)
    edit(c, U53, B, 0)
    edit(c, U53, A, 0)
    udps(c, p, 2)


# ---------------------------------------------------------------------------------------------
# lc

@case('lc-tcp', 'lc: weights 1,2,3 are ignored; active SYN_RECV connections counted')
def _(c):
    p = Ports()
    three(c, T80, 'lc', [1, 2, 3])
    syns(c, p, 12)


@case('lc-udp-weight0', 'lc: UDP (inactive) with weights 1,5,0')
def _(c):
    p = Ports()
    three(c, U53, 'lc', [1, 5, 0])
    udps(c, p, 6)


@case('lc-overhead', 'lc: 1 active (257) loses to 256 inactive (256): overhead = active*256 + total')
def _(c):
    p = Ports()
    svc(c, T80, 'lc')
    add(c, T80, B)
    for _ in range(256):
        port = p.take()
        c.tcp(CLI, port, VIP, 80, 'S')
        c.tcp(CLI, port, VIP, 80, 'F')
    add(c, T80, A)
    syns(c, p, 4)


@case('lc-fin-mix', 'lc: FINs turn active into inactive connections between picks')
def _(c):
    p = Ports()
    three(c, T80, 'lc', [1, 1, 1])
    used = syns(c, p, 6)
    fins(c, used[0:2])
    syns(c, p, 4)
    fins(c, used[2:6])
    syns(c, p, 5)
    c.ipvsadm('-A %s -s lc' % U53)
    add(c, U53, A)
    add(c, U53, B)
    udps(c, p, 5)


@case('lc-thresholds', 'lc: -x excludes an overloaded destination until its total drops to the lower threshold')
def _(c):
    p = Ports()
    svc(c, T80, 'lc')
    add(c, T80, A, 1, '-x 2 -y 1')
    add(c, T80, B, 1, '-x 4')
    used = syns(c, p, 7)
    fins(c, used[:3])
    syns(c, p, 3)
    edit(c, T80, B, 0, '-x 4')
    syns(c, p, 2)


# ---------------------------------------------------------------------------------------------
# wlc

@case('wlc-udp', 'wlc: UDP, weights 1,2,3')
def _(c):
    p = Ports()
    three(c, U53, 'wlc', [1, 2, 3])
    udps(c, p, 12)


@case('wlc-tcp', 'wlc: TCP SYNs, weights 1,2,3')
def _(c):
    p = Ports()
    three(c, T80, 'wlc', [1, 2, 3])
    syns(c, p, 12)


@case('wlc-default', 'wlc is what -A without -s gives; equal weights tie to the first in list order')
def _(c):
    p = Ports()
    c.ipvsadm('-A %s' % T80)
    for i in range(4):
        add(c, T80, rs(i), 2)
    syns(c, p, 9)


@case('wlc-mixed', 'wlc: active and inactive connections, weight edits in the middle')
def _(c):
    p = Ports()
    three(c, T80, 'wlc', [2, 1, 3])
    used = syns(c, p, 8)
    fins(c, used[1:5])
    syns(c, p, 4)
    edit(c, T80, B, 5)
    syns(c, p, 5)
    edit(c, T80, C, 1)
    syns(c, p, 4)


@case('wlc-weight0', 'wlc: a weight-0 destination is never the first candidate and can never win')
def _(c):
    p = Ports()
    svc(c, T80, 'wlc')
    add(c, T80, A, 1)
    add(c, T80, B, 2)
    add(c, T80, C, 0)  # list head
    syns(c, p, 6)
    edit(c, T80, A, 0)
    syns(c, p, 3)
    edit(c, T80, B, 0)
    syns(c, p, 2)
    edit(c, T80, C, 1)
    syns(c, p, 3)


@case('wlc-delete-readd', 'wlc: a deleted destination keeps its connections; re-added it counts them again')
def _(c):
    p = Ports()
    three(c, T80, 'wlc', [1, 1, 1])
    syns(c, p, 6)
    dele(c, T80, B)
    syns(c, p, 4)
    add(c, T80, B, 1)
    syns(c, p, 4)


# ---------------------------------------------------------------------------------------------
# sed

@case('sed-tcp', 'sed: TCP SYNs, weights 1,2,3')
def _(c):
    p = Ports()
    three(c, T80, 'sed', [1, 2, 3])
    syns(c, p, 12)


@case('sed-udp', 'sed: inactive (UDP) connections do not count, so the heaviest weight always wins')
def _(c):
    p = Ports()
    three(c, U53, 'sed', [2, 4, 4])
    udps(c, p, 6)
    edit(c, U53, A, 5)
    udps(c, p, 3)


@case('sed-mixed', 'sed: FINs and weight edits between picks; weight 0 and overload skipped')
def _(c):
    p = Ports()
    svc(c, T80, 'sed')
    add(c, T80, A, 1)
    add(c, T80, B, 2)
    add(c, T80, C, 4, '-x 3')
    used = syns(c, p, 7)
    fins(c, used[:3])
    syns(c, p, 4)
    edit(c, T80, B, 0)
    syns(c, p, 3)


# ---------------------------------------------------------------------------------------------
# nq

@case('nq-tcp', 'nq: TCP SYNs, weights 1,2,3')
def _(c):
    p = Ports()
    three(c, T80, 'nq', [1, 2, 3])
    syns(c, p, 12)


@case('nq-idle', 'nq: a destination whose active connections all finished is taken at once')
def _(c):
    p = Ports()
    three(c, T80, 'nq', [1, 5, 10])
    used = syns(c, p, 8)
    fins(c, used)
    syns(c, p, 4)
    c.ipvsadm('-A %s -s nq' % U53)
    add(c, U53, A, 1)
    add(c, U53, B, 3)
    udps(c, p, 4)


@case('nq-weight0-overload', 'nq: weight 0 and overloaded destinations are skipped even when idle')
def _(c):
    p = Ports()
    svc(c, T80, 'nq')
    add(c, T80, A, 2)
    add(c, T80, B, 1, '-x 1')
    add(c, T80, C, 0)
    syns(c, p, 6)
    edit(c, T80, A, 0)
    syns(c, p, 2)


# ---------------------------------------------------------------------------------------------
# fo

@case('fo-132', 'fo: always the highest weight, connections ignored')
def _(c):
    p = Ports()
    three(c, T80, 'fo', [1, 3, 2])
    syns(c, p, 6)
    svc(c, U53, 'fo')
    add(c, U53, A, 2)
    add(c, U53, B, 2)
    udps(c, p, 3)


@case('fo-edits', 'fo: weight edits and deletes move the traffic; equal weights tie to the list head')
def _(c):
    p = Ports()
    three(c, T80, 'fo', [1, 3, 2])
    syns(c, p, 2)
    edit(c, T80, A, 3)
    syns(c, p, 2)
    edit(c, T80, B, 0)
    syns(c, p, 2)
    dele(c, T80, A)
    syns(c, p, 2)
    add(c, T80, B, 2)
    syns(c, p, 2)
    edit(c, T80, C, 0)
    edit(c, T80, B, 0)
    syns(c, p, 2)


@case('fo-thresholds', 'fo: an overloaded primary fails over to the next weight until released')
def _(c):
    p = Ports()
    svc(c, T80, 'fo')
    add(c, T80, A, 10, '-x 2')
    add(c, T80, B, 5, '-x 2')
    add(c, T80, C, 1)
    used = syns(c, p, 6)
    fins(c, used[:2])
    syns(c, p, 3)


# ---------------------------------------------------------------------------------------------
# ovf

@case('ovf-132', 'ovf: weights 1,3,2 overflow by active connections, then no destination')
def _(c):
    p = Ports()
    three(c, T80, 'ovf', [1, 3, 2])
    syns(c, p, 12)


@case('ovf-release', 'ovf: FINs free capacity on the heaviest destination; UDP (inactive) never overflows')
def _(c):
    p = Ports()
    three(c, T80, 'ovf', [2, 1, 1])
    used = syns(c, p, 8)
    fins(c, used[:3])
    syns(c, p, 4)
    svc(c, U53, 'ovf')
    add(c, U53, A, 1)
    add(c, U53, B, 1)
    udps(c, p, 4)


@case('ovf-edits', 'ovf: weight edits, weight 0 and thresholds')
def _(c):
    p = Ports()
    svc(c, T80, 'ovf')
    add(c, T80, A, 2)
    add(c, T80, B, 2, '-x 2')
    add(c, T80, C, 0)
    syns(c, p, 6)
    edit(c, T80, C, 4)
    syns(c, p, 3)
    edit(c, T80, A, 10)
    syns(c, p, 3)


# ---------------------------------------------------------------------------------------------
# lblc

FW = '-f 5'


@case('lblc-one-vip', 'lblc: one VIP sticks to a server until it is over weight while another is under half')
def _(c):
    p = Ports()
    svc(c, T80, 'lblc')
    add(c, T80, A, 2)
    add(c, T80, B, 2)
    syns(c, p, 10)


@case('lblc-fwmark-vips', 'lblc: a fwmark service over many destination addresses; each address keeps its server')
def _(c):
    p = Ports()
    svc(c, FW, 'lblc')
    add(c, FW, A, 1)
    add(c, FW, B, 2)
    add(c, FW, C, 3)
    vips = ['192.0.2.%d' % i for i in range(10, 30)]
    for v in vips:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)
    for v in vips[:8]:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)


@case('lblc-weight0-delete', 'lblc: an entry whose server got weight 0 or was deleted is rescheduled')
def _(c):
    p = Ports()
    svc(c, FW, 'lblc')
    add(c, FW, A, 4)
    add(c, FW, B, 4)
    add(c, FW, C, 4)
    vips = ['192.0.2.%d' % i for i in range(40, 49)]
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)
    edit(c, FW, C, 0)
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)
    dele(c, FW, B)
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)
    add(c, FW, B, 4)
    edit(c, FW, C, 4)
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)


@case('lblc-overload', 'lblc: the OVERLOAD flag is not checked on a cache hit, only when scheduling afresh')
def _(c):
    p = Ports()
    svc(c, T80, 'lblc')
    add(c, T80, A, 10)
    add(c, T80, B, 10, '-x 2')
    syns(c, p, 5)
    svc(c, FW, 'lblc')
    add(c, FW, C, 1, '-x 1')
    add(c, FW, D, 1)
    for v in ['192.0.2.%d' % i for i in (50, 51, 50, 52, 51, 53)]:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)


# ---------------------------------------------------------------------------------------------
# lblcr

@case('lblcr-one-vip', 'lblcr: one VIP grows its server set when the least loaded member is over weight')
def _(c):
    p = Ports()
    svc(c, T80, 'lblcr')
    add(c, T80, A, 2)
    add(c, T80, B, 2)
    syns(c, p, 10)


@case('lblcr-fwmark-vips', 'lblcr: a fwmark service over many destination addresses')
def _(c):
    p = Ports()
    svc(c, FW, 'lblcr')
    add(c, FW, A, 1)
    add(c, FW, B, 2)
    add(c, FW, C, 1)
    vips = ['192.0.2.%d' % i for i in range(60, 72)]
    for k in range(3):
        for v in vips:
            c.tcp(CLI, p.take(), v, 80, 'S', mark=5)


@case('lblcr-weight0-delete', 'lblcr: set members with weight 0 or deleted are skipped')
def _(c):
    p = Ports()
    svc(c, T80, 'lblcr')
    add(c, T80, A, 1)
    add(c, T80, B, 1)
    add(c, T80, C, 1)
    syns(c, p, 6)
    edit(c, T80, C, 0)
    syns(c, p, 3)
    dele(c, T80, B)
    syns(c, p, 3)
    edit(c, T80, C, 5)
    syns(c, p, 4)


@case('lblcr-expire', 'lblcr: a set unchanged for lblcr_expiration loses its most loaded member')
def _(c):
    p = Ports()
    svc(c, T80, 'lblcr')
    c.sysctl('lblcr_expiration', 1)
    add(c, T80, A, 1)
    add(c, T80, B, 1)
    syns(c, p, 4)
    c.sleep(2.5)
    syns(c, p, 3)
    c.sleep(2.5)
    syns(c, p, 3)


# ---------------------------------------------------------------------------------------------
# dh

@case('dh-fwmark-vips', 'dh: destination hashing over 32 destination addresses (fwmark service)')
def _(c):
    p = Ports()
    svc(c, FW, 'dh')
    for i in range(3):
        add(c, FW, rs(i))
    for i in range(32):
        c.udp(CLI, p.take(), '192.0.2.%d' % (100 + i), 53, mark=5)


@case('dh-vips', 'dh: one service per VIP; weights do not replicate buckets; weight 0 gives no destination')
def _(c):
    p = Ports()
    for k in range(6):
        v = '-t 192.0.2.%d:80' % (150 + k)
        svc(c, v, 'dh')
        add(c, v, A, 1)
        add(c, v, B, 5)
        add(c, v, C, 0 if k % 2 else 1)
    for k in range(6):
        c.tcp(CLI, p.take(), '192.0.2.%d' % (150 + k), 80, 'S')


@case('dh-edits', 'dh: adding, editing and deleting destinations rebuilds the buckets')
def _(c):
    p = Ports()
    svc(c, FW, 'dh')
    add(c, FW, A)
    add(c, FW, B)
    vips = ['192.0.2.%d' % (200 + i) for i in range(12)]
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)
    add(c, FW, C)
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)
    edit(c, FW, A, 0)
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)
    dele(c, FW, B)
    for v in vips:
        c.udp(CLI, p.take(), v, 53, mark=5)


@case('dh-overload', 'dh: an overloaded bucket owner gives no destination (no fallback)')
def _(c):
    p = Ports()
    svc(c, FW, 'dh')
    add(c, FW, A, 1, '-x 1')
    add(c, FW, B, 1, '-x 1')
    for v in ['192.0.2.%d' % (210 + i) for i in range(8)]:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)


# ---------------------------------------------------------------------------------------------
# sh

def many_clients(c, p, n, spec_vip=VIP, vport=53, first=1, sport=None, proto='udp'):
    for x in clients(n, first):
        port = sport if sport is not None else p.take()
        if proto == 'udp':
            c.udp(x, port, spec_vip, vport)
        else:
            c.tcp(x, port, spec_vip, vport, 'S')


@case('sh-clients', 'sh: 32 clients, weights 1,2,1 (a weight takes that many consecutive buckets)')
def _(c):
    p = Ports()
    three(c, U53, 'sh', [1, 2, 1])
    many_clients(c, p, 32, sport=5000)


@case('sh-port', 'sh -b sh-port: one client, the source port is hashed too')
def _(c):
    p = Ports()
    three(c, U53, 'sh', [1, 1, 1], '-b sh-port')
    for port in range(6000, 6024):
        c.udp(CLI, port, VIP, 53)


@case('sh-fallback', 'sh -b sh-fallback: clients of a weight-0 destination probe further buckets')
def _(c):
    p = Ports()
    three(c, U53, 'sh', [1, 1, 0], '-b sh-fallback')
    many_clients(c, p, 24, sport=5000)


@case('sh-nofallback', 'sh without fallback: clients hashed to a weight-0 destination get none')
def _(c):
    p = Ports()
    three(c, U53, 'sh', [1, 1, 0])
    many_clients(c, p, 24, sport=5000)


@case('sh-edits', 'sh: weight edits, deletes and adds rebuild the buckets (TCP, many clients)')
def _(c):
    p = Ports()
    three(c, T80, 'sh', [1, 1, 1])
    many_clients(c, p, 16, vport=80, proto='tcp')
    edit(c, T80, A, 3)
    many_clients(c, p, 16, vport=80, proto='tcp')
    dele(c, T80, B)
    many_clients(c, p, 16, vport=80, proto='tcp')
    add(c, T80, D, 2)
    many_clients(c, p, 16, vport=80, proto='tcp')


@case('sh-overload-fallback', 'sh -b sh-fallback,sh-port: overloaded destinations are probed past')
def _(c):
    p = Ports()
    svc(c, T80, 'sh', '-b sh-fallback,sh-port')
    add(c, T80, A, 1, '-x 2')
    add(c, T80, B, 1, '-x 2')
    add(c, T80, C, 1)
    for port in range(7000, 7012):
        c.tcp(CLI, port, VIP, 80, 'S')


@case('sh-ipv6', 'sh: IPv6 clients (the fold is the XOR of the four address words)')
def _(c):
    p = Ports()
    v = '-u [2001:db8:2::1]:53'
    svc(c, v, 'sh')
    for i in range(3):
        c.ipvsadm('-a %s -r 2001:db8:5::%x -g -w %d' % (v, 0x11 + i, i + 1))
    for i in range(1, 21):
        c.udp('2001:db8:c::%x:%x' % ((i * 0x1011) & 0xffff, (i * 0x2345) & 0xffff), 5000, '2001:db8:2::1', 53)


@case('sh-E-switch', 'sh: -E to mh and back rebuilds the tables; flags follow the command line')
def _(c):
    p = Ports()
    three(c, U53, 'sh', [1, 1, 1])
    many_clients(c, p, 10, sport=5000)
    c.ipvsadm('-E %s -s mh' % U53)
    many_clients(c, p, 10, first=11, sport=5000)
    c.ipvsadm('-E %s -s sh -b sh-port' % U53)
    many_clients(c, p, 10, first=21)


# ---------------------------------------------------------------------------------------------
# mh

@case('mh-clients', 'mh: 32 clients, three destinations of weight 1')
def _(c):
    p = Ports()
    three(c, U53, 'mh', [1, 1, 1])
    many_clients(c, p, 32, sport=5000)


@case('mh-port', 'mh -b mh-port: one client, weights 1,2,3, the source port is hashed too')
def _(c):
    p = Ports()
    three(c, U53, 'mh', [1, 2, 3], '-b mh-port')
    for port in range(6000, 6024):
        c.udp(CLI, port, VIP, 53)


@case('mh-fallback', 'mh -b mh-fallback: a destination edited to weight 0 keeps its slots; its clients probe')
def _(c):
    p = Ports()
    three(c, U53, 'mh', [1, 1, 1], '-b mh-fallback')
    many_clients(c, p, 24, sport=5000)
    edit(c, U53, C, 0)
    many_clients(c, p, 24, sport=5000, first=101)


@case('mh-nofallback', 'mh without fallback: weight 0 from the start gets no slots; edited to 0 gives none')
def _(c):
    p = Ports()
    three(c, U53, 'mh', [1, 1, 0])
    many_clients(c, p, 16, sport=5000)
    edit(c, U53, A, 0)
    many_clients(c, p, 16, sport=5000, first=101)


@case('mh-edits', 'mh: large weights (shifted), deletes and adds rebuild the table')
def _(c):
    p = Ports()
    three(c, T80, 'mh', [100, 200, 300])
    many_clients(c, p, 16, vport=80, proto='tcp')
    dele(c, T80, B)
    many_clients(c, p, 16, vport=80, proto='tcp')
    add(c, T80, D, 50)
    edit(c, T80, A, 7)
    many_clients(c, p, 16, vport=80, proto='tcp')


@case('mh-ipv6', 'mh: IPv6 clients and IPv6 destinations')
def _(c):
    p = Ports()
    v = '-u [2001:db8:2::1]:53'
    svc(c, v, 'mh')
    for i in range(3):
        c.ipvsadm('-a %s -r 2001:db8:5::%x -g -w 1' % (v, 0x11 + i))
    for i in range(1, 21):
        c.udp('2001:db8:c::%x:%x' % ((i * 0x1011) & 0xffff, (i * 0x2345) & 0xffff), 5000, '2001:db8:2::1', 53)


@case('mh-overload', 'mh -b mh-fallback,mh-port: overloaded destinations are probed past')
def _(c):
    p = Ports()
    svc(c, T80, 'mh', '-b mh-fallback,mh-port')
    add(c, T80, A, 1, '-x 2')
    add(c, T80, B, 1, '-x 2')
    add(c, T80, C, 1)
    for port in range(7000, 7012):
        c.tcp(CLI, port, VIP, 80, 'S')


# ---------------------------------------------------------------------------------------------
# more: ports, deleted destinations, sysctls, expiry, IPv6 fwmark, big weights

@case('rr-masq-ports', 'rr: -m destinations on one address with two ports are two destinations')
def _(c):
    p = Ports()
    svc(c, T80, 'rr')
    c.ipvsadm('-a %s -r %s:8080 -m' % (T80, A))
    c.ipvsadm('-a %s -r %s:8081 -m -w 2' % (T80, A))
    c.ipvsadm('-a %s -r %s:8080 -g' % (T80, B))  # -g: the port becomes the service port
    syns(c, p, 6)
    c.ipvsadm('-d %s -r %s:8080' % (T80, A))
    syns(c, p, 3)


@case('rr-deleted-dest', 'rr: packets of connections to a deleted destination are dropped; expire_nodest_conn reschedules a SYN')
def _(c):
    p = Ports()
    three(c, T80, 'rr', [1, 1, 1])
    used = syns(c, p, 6)
    dele(c, T80, C)
    for port in used[:3]:
        c.tcp(CLI, port, VIP, 80, 'A')
    syns(c, p, 2)
    c.sysctl('expire_nodest_conn', 1)
    c.tcp(CLI, used[3], VIP, 80, 'S')  # the old entry to C goes, the SYN is scheduled again
    c.tcp(CLI, used[0], VIP, 80, 'A')  # an ACK is not scheduled
    syns(c, p, 2)


@case('rr-quiescent-template', 'rr -p: with expire_quiescent_template a weight-0 destination loses its templates')
def _(c):
    p = Ports()
    svc(c, T80, 'rr', '-p 60')
    add(c, T80, A)
    add(c, T80, B)
    cl = clients(4)
    for x in cl:
        c.tcp(x, p.take(), VIP, 80, 'S')
    edit(c, T80, B, 0)
    for x in cl:
        c.tcp(x, p.take(), VIP, 80, 'S')
    c.sysctl('expire_quiescent_template', 1)
    for x in cl:
        c.tcp(x, p.take(), VIP, 80, 'S')
    edit(c, T80, B, 1)
    for x in clients(3, 20):
        c.tcp(x, p.take(), VIP, 80, 'S')


@case('rr-sloppy-reuse', 'rr: sloppy_tcp lets an ACK be scheduled; conn_reuse_mode 0 keeps a TIME_WAIT entry for a new SYN')
def _(c):
    p = Ports()
    three(c, T80, 'rr', [1, 1, 1])
    c.sysctl('sloppy_tcp', 1)
    for _ in range(3):
        c.tcp(CLI, p.take(), VIP, 80, 'A')
    c.sysctl('sloppy_tcp', 0)
    c.sysctl('conn_reuse_mode', 0)
    used = syns(c, p, 2)
    fins(c, used)
    for port in used:
        c.tcp(CLI, port, VIP, 80, 'S')
    syns(c, p, 2)


@case('wlc-persist', 'wlc -p: templates are not counted as active or inactive connections')
def _(c):
    p = Ports()
    three(c, T80, 'wlc', [1, 1, 2], '-p 60')
    for k in range(3):
        for x in clients(6):
            c.tcp(x, p.take(), VIP, 80, 'S')
    c.dests()
    for x in clients(4, 30):
        c.tcp(x, p.take(), VIP, 80, 'S')


@case('wlc-udp-expiry', 'wlc: with --set udp 2 s, UDP entries expire and stop counting')
def _(c):
    p = Ports()
    c.ipvsadm('--set 0 0 2')
    three(c, U53, 'wlc', [1, 1, 1])
    udps(c, p, 5)
    c.dests()
    c.sleep(3.5)
    svc(c, T80, 'wlc')
    add(c, T80, A)
    udps(c, p, 4)


@case('wrr-big', 'wrr: weights 100, 50, 25, 1')
def _(c):
    p = Ports()
    svc(c, U53, 'wrr')
    for i, w in enumerate([100, 50, 25, 1]):
        add(c, U53, rs(i), w)
    udps(c, p, 60)


@case('wrr-overload-mid', 'wrr: everything overloaded while the position is in the middle of the list')
def _(c):
    p = Ports()
    svc(c, T80, 'wrr')
    add(c, T80, A, 2, '-x 2')
    add(c, T80, B, 2, '-x 2')
    add(c, T80, C, 2, '-x 2')
    used = syns(c, p, 8)
    c.tcp(CLI, used[4], VIP, 80, 'F')
    syns(c, p, 3)
    edit(c, T80, A, 1, '-x 2')
    syns(c, p, 2)
    edit(c, T80, B, 2, '-x 5')
    syns(c, p, 4)


FW6 = '-f 6 -6'


def add6(c, spec, i, w=1):
    c.ipvsadm('-a %s -r 2001:db8:5::%x -g -w %d' % (spec, 0x11 + i, w))


@case('lblc-ipv6', 'lblc: an IPv6 fwmark service over many IPv6 destination addresses')
def _(c):
    p = Ports()
    svc(c, FW6, 'lblc')
    add6(c, FW6, 0, 1)
    add6(c, FW6, 1, 2)
    vips = ['2001:db8:2::%x' % (0x100 + 0x111 * i) for i in range(12)]
    for k in range(2):
        for v in vips:
            c.tcp('2001:db8:c::1', p.take(), v, 80, 'S', mark=6)


@case('dh-ipv6', 'dh: an IPv6 fwmark service over many IPv6 destination addresses')
def _(c):
    p = Ports()
    svc(c, FW6, 'dh')
    for i in range(3):
        add6(c, FW6, i)
    for i in range(24):
        c.udp('2001:db8:c::1', p.take(), '2001:db8:2::%x:%x' % ((0x1000 + 0x1357 * i) & 0xffff, 0x99 * i), 53, mark=6)


@case('lblc-E-lblcr', 'lblc: -E to lblcr and back starts with an empty table each time')
def _(c):
    p = Ports()
    svc(c, FW, 'lblc')
    add(c, FW, A, 1)
    add(c, FW, B, 1)
    vips = ['192.0.2.%d' % i for i in range(80, 86)]
    for v in vips:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)
    c.ipvsadm('-E %s -s lblcr' % FW)
    for v in vips:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)
    c.ipvsadm('-E %s -s lblc' % FW)
    for v in vips:
        c.tcp(CLI, p.take(), v, 80, 'S', mark=5)


@case('mh-weight-up', 'mh: a destination added with weight 0 gets slots only once its weight is raised')
def _(c):
    p = Ports()
    three(c, U53, 'mh', [2, 0, 1], '-b mh-fallback')
    many_clients(c, p, 16, sport=5000)
    edit(c, U53, B, 3)
    many_clients(c, p, 16, sport=5000, first=50)
    edit(c, U53, B, 0)
    many_clients(c, p, 16, sport=5000, first=100)


@case('sh-weights-edit', 'sh: weight 0 keeps one bucket; edits to 0 and back rebuild the same way')
def _(c):
    p = Ports()
    three(c, U53, 'sh', [2, 0, 3])
    many_clients(c, p, 16, sport=5000)
    edit(c, U53, B, 2)
    many_clients(c, p, 16, sport=5000, first=50)
    edit(c, U53, C, 0)
    many_clients(c, p, 16, sport=5000, first=100)


@case('rr-ops', 'rr -o: one-packet scheduling sends every UDP datagram, even of one flow, to the next server')
def _(c):
    p = Ports()
    c.one_packet()
    three(c, U53, 'rr', [1, 1, 1], '-o', '-m')
    for _ in range(4):
        c.udp(CLI, 5000, VIP, 53)
    udps(c, p, 3)
    edit(c, U53, B, 0, '-m')
    for _ in range(3):
        c.udp(CLI, 5000, VIP, 53)


@case('wlc-ipv6', 'wlc: an IPv6 TCP service, weights 1,2,3, with FINs between')
def _(c):
    p = Ports()
    v = '-t [2001:db8:2::1]:80'
    svc(c, v, 'wlc')
    for i, w in enumerate([1, 2, 3]):
        add6(c, v, i, w)
    used = []
    for _ in range(9):
        port = p.take()
        c.tcp('2001:db8:c::1', port, '2001:db8:2::1', 80, 'S')
        used.append(port)
    for port in used[:4]:
        c.tcp('2001:db8:c::1', port, '2001:db8:2::1', 80, 'F')
    for _ in range(6):
        c.tcp('2001:db8:c::1', p.take(), '2001:db8:2::1', 80, 'S')


@case('rr-ipv6-persist', 'rr -p on an IPv6 service with -M 64: clients of one /64 share a template')
def _(c):
    p = Ports()
    v = '-u [2001:db8:2::1]:53'
    svc(c, v, 'rr', '-p 60 -M 64')
    for i in range(3):
        add6(c, v, i)
    for x in ['2001:db8:c::1', '2001:db8:c::ffff:1', '2001:db8:c:1::1', '2001:db8:c:2::5', '2001:db8:c:1::9', '2001:db8:c::7']:
        c.udp(x, p.take(), '2001:db8:2::1', 53)


# ---------------------------------------------------------------------------------------------
# many flows: the hash tables seen through hundreds of keys

def spread_clients(n):
    """n client addresses spread over 203.0.113.0/24 and 198.51.100.128/25."""
    out = ['203.0.113.%d' % (1 + i) for i in range(min(n, 250))]
    out += ['198.51.100.%d' % (128 + i) for i in range(n - len(out))]
    return out


@case('sh-many', 'sh: 240 clients over weights 1,2,3,4 and an edit')
def _(c):
    svc(c, U53, 'sh')
    for i, w in enumerate([1, 2, 3, 4]):
        add(c, U53, rs(i), w)
    for x in spread_clients(240):
        c.udp(x, 5000, VIP, 53)
    edit(c, U53, rs(1), 5)
    for x in spread_clients(120):
        c.udp(x, 5001, VIP, 53)


@case('mh-many', 'mh -b mh-fallback: 240 clients over weights 3,5,7,1, then one destination quiesced')
def _(c):
    svc(c, U53, 'mh', '-b mh-fallback')
    for i, w in enumerate([3, 5, 7, 1]):
        add(c, U53, rs(i), w)
    for x in spread_clients(240):
        c.udp(x, 5000, VIP, 53)
    edit(c, U53, rs(2), 0)
    for x in spread_clients(120):
        c.udp(x, 5001, VIP, 53)


@case('dh-many', 'dh: 10 destinations, 96 destination addresses (fwmark service)')
def _(c):
    p = Ports()
    svc(c, FW, 'dh')
    for i in range(10):
        add(c, FW, '198.51.100.%d' % (20 + i), 1 + i % 3)
    for i in range(96):
        c.udp(CLI, p.take(), '192.0.2.%d' % (100 + i), 53, mark=5)


@case('lblcr-many-vips', 'lblcr: 40 destination addresses, three rounds of SYNs, servers of weight 1,2,3')
def _(c):
    p = Ports()
    svc(c, FW, 'lblcr')
    add(c, FW, A, 1)
    add(c, FW, B, 2)
    add(c, FW, C, 3)
    vips = ['192.0.2.%d' % (100 + i) for i in range(40)]
    for k in range(3):
        for v in vips:
            c.tcp(CLI, p.take(), v, 80, 'S', mark=5)


@case('rr-fwmark-persist', 'rr -p on a fwmark service: one template per client for every address, port and protocol')
def _(c):
    p = Ports()
    svc(c, '-f 7', 'rr', '-p 60')
    add(c, '-f 7', A)
    add(c, '-f 7', B)
    for x in clients(4):
        c.tcp(x, p.take(), '192.0.2.10', 80, 'S', mark=7)
        c.udp(x, p.take(), '192.0.2.11', 53, mark=7)
        c.tcp(x, p.take(), '192.0.2.12', 443, 'S', mark=7)

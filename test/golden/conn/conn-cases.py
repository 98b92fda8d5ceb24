"""
The connection-layer cases recorded by record-conn.py: (name, title, function(case)).
Clients 203.0.113.0/24, VIPs 192.0.2.0/24, real servers 198.51.100.0/24 (IPv6: 2001:db8:c::,
2001:db8:2::, 2001:db8:5::). Direct-routing servers never answer; a "reply" is a packet sent
from a real server's address to a client, which IPVS takes as a NAT reply.
"""

V = '192.0.2.1'
C = '203.0.113.1'
R1, R2, R3 = '198.51.100.11', '198.51.100.12', '198.51.100.13'


def tcp_dr_states(c):
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s -g' % (V, R1))
    for flags, data in [('S', 0), ('A', 0), ('PA', 18), ('FA', 0), ('A', 0)]:
        c.tcp('%s:42000' % C, '%s:80' % V, flags, data)
        c.conns()
        c.dests()
    c.tcp('%s:42001' % C, '%s:80' % V, 'S')
    c.tcp('%s:42001' % C, '%s:80' % V, 'R')
    c.tcp('%s:42002' % C, '%s:80' % V, 'S')
    c.tcp('%s:42002' % C, '%s:80' % V, 'F')
    c.tcp('%s:42003' % C, '%s:80' % V, 'A')
    c.tcp('%s:42004' % C, '%s:80' % V, 'S')
    c.tcp('%s:42004' % C, '%s:80' % V, 'P')
    c.conns()
    c.dests()
    c.sysctl('sloppy_tcp', 1)
    c.tcp('%s:42005' % C, '%s:80' % V, 'A')
    c.tcp('%s:42006' % C, '%s:80' % V, 'RA')
    c.tcp('%s:42007' % C, '%s:80' % V, 'FA')
    c.conns()
    c.sleep(1.3)
    c.conns()
    c.sleep(1.5)
    c.stats()


def udp_timeout_overload(c):
    # Sends at about 0, 1, 2 and 3 s with a 5 s UDP timeout; l_threshold of -x 4 is 3.
    c.ipvsadm('--set 0 0 5')
    c.ipvsadm('-A -u %s:53 -s rr' % V)
    c.ipvsadm('-a -u %s:53 -r %s -g -x 4' % (V, R1))
    for i in range(4):
        if i:
            c.sleep(1.0)
        c.udp('%s:%d' % (C, 5000 + i), '%s:53' % V)
    c.dests()
    c.udp('%s:5100' % C, '%s:53' % V)   # overloaded: no destination
    c.udp('%s:5000' % C, '%s:53' % V)   # an existing entry still works and is re-armed
    c.conns()
    c.sleep(3.4)                        # 5001 expired (4 -> 3): still overloaded
    c.dests()
    c.udp('%s:5101' % C, '%s:53' % V)
    c.sleep(1.0)                        # 5002 expired (3 -> 2 starts from l): cleared
    c.dests()
    c.udp('%s:5102' % C, '%s:53' % V)
    c.conns()
    c.sleep(6.0)
    c.conns()
    c.dests()


def persist_basic(c):
    c.ipvsadm('-A -t 192.0.2.70:80 -s rr -p 300')
    c.ipvsadm('-a -t 192.0.2.70:80 -r %s' % R1)
    c.ipvsadm('-a -t 192.0.2.70:80 -r %s' % R2)
    for src, port in [('203.0.113.7', 1000), ('203.0.113.7', 1001), ('203.0.113.8', 1000), ('203.0.113.9', 1000)]:
        c.tcp('%s:%d' % (src, port), '192.0.2.70:80', 'S')
    c.conns()
    c.dests()
    c.ipvsadm('-A -t 192.0.2.71:80 -s rr -p 300 -M 255.255.255.0')
    c.ipvsadm('-a -t 192.0.2.71:80 -r %s' % R1)
    c.ipvsadm('-a -t 192.0.2.71:80 -r %s' % R2)
    for src in ['203.0.113.7', '203.0.113.8', '203.0.114.8']:
        c.tcp('%s:1000' % src, '192.0.2.71:80', 'S')
    c.ipvsadm('-A -t 192.0.2.72:0 -s rr -p 100')
    c.ipvsadm('-a -t 192.0.2.72:0 -r %s' % R1)
    c.ipvsadm('-a -t 192.0.2.72:0 -r %s' % R2)
    c.tcp('203.0.113.7:1000', '192.0.2.72:22', 'S')
    c.tcp('203.0.113.7:1001', '192.0.2.72:443', 'S')
    c.tcp('203.0.113.8:1001', '192.0.2.72:443', 'S')
    c.ipvsadm('-A -t 192.0.2.73:0 -s rr')
    c.ipvsadm('-a -t 192.0.2.73:0 -r %s' % R1)
    c.tcp('203.0.113.7:1000', '192.0.2.73:22', 'S')
    c.conns()
    c.dests()
    c.sleep(2.5)
    c.stats()


def persist_fwmark(c):
    c.ipvsadm('-A -f 7 -s rr -p 60')
    c.ipvsadm('-a -f 7 -r %s:8080 -m' % R1)
    c.ipvsadm('-a -f 7 -r %s -g' % R2)
    c.tcp('203.0.113.7:1000', '192.0.2.80:80', 'S', mark=7)
    c.tcp('203.0.113.8:1000', '192.0.2.80:80', 'S', mark=7)
    c.udp('203.0.113.8:5353', '192.0.2.81:53', mark=7)
    c.udp('203.0.113.8:5354', '192.0.2.81:53')
    c.conns()
    c.dests()


def persist_template_life(c):
    c.ipvsadm('-A -t %s:80 -s rr -p 2' % V)
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R1))
    c.tcp('203.0.113.7:1000', '%s:80' % V, 'S')
    c.tcp('203.0.113.7:1000', '%s:80' % V, 'A')
    c.tcp('203.0.113.8:1000', '%s:80' % V, 'S')
    c.conns()
    c.sleep(1.0)
    c.tcp('203.0.113.7:1001', '%s:80' % V, 'S')
    c.conns()
    c.sleep(2.5)  # both templates fired while controlling entries: 60 s more
    c.conns()
    c.tcp('203.0.113.7:1002', '%s:80' % V, 'S')
    c.conns()
    c.dests()


def persist_invalidate(c):
    c.ipvsadm('-A -t %s:80 -s rr -p 300' % V)
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R1))
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R2))
    c.tcp('203.0.113.7:1000', '%s:80' % V, 'S')
    c.tcp('203.0.113.8:1000', '%s:80' % V, 'S')
    c.ipvsadm('-e -t %s:80 -r %s -w 0' % (V, R2))
    c.tcp('203.0.113.7:1001', '%s:80' % V, 'S')
    c.conns()
    c.sysctl('expire_quiescent_template', 1)
    c.tcp('203.0.113.7:1002', '%s:80' % V, 'S')
    c.conns()
    c.dests()
    c.ipvsadm('-d -t %s:80 -r %s' % (V, R1))
    c.tcp('203.0.113.8:1001', '%s:80' % V, 'S')
    c.tcp('203.0.113.8:1000', '%s:80' % V, 'A')
    c.conns()
    c.dests()


def one_packet(c):
    c.ipvsadm('-A -u %s:53 -s rr -o' % V)
    c.ipvsadm('-a -u %s:53 -r %s' % (V, R1))
    c.ipvsadm('-a -u %s:53 -r %s' % (V, R2))
    for i in range(4):
        c.udp('%s:49000' % C, '%s:53' % V)
    c.ipvsadm('-A -u 192.0.2.2:53 -s rr -o -p 30')
    c.ipvsadm('-a -u 192.0.2.2:53 -r %s' % R1)
    for i in range(3):
        c.udp('%s:%d' % (C, 49100 + i), '192.0.2.2:53')
    c.ipvsadm('-A -f 3 -s rr -o')
    c.ipvsadm('-a -f 3 -r %s' % R3)
    c.udp('%s:49200' % C, '192.0.2.3:53', mark=3)
    c.tcp('%s:49201' % C, '192.0.2.3:80', 'S', mark=3)
    c.conns()
    c.dests()
    c.sleep(2.5)
    c.stats()


def conn_reuse(c):
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R1))
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R2))
    c.tcp('%s:31000' % C, '%s:80' % V, 'S')
    c.tcp('%s:31000' % C, '%s:80' % V, 'F')
    c.tcp('%s:31000' % C, '%s:80' % V, 'S')
    c.conns()
    for flags in ['S', 'A', 'FA', 'S']:
        c.tcp('%s:31001' % C, '%s:80' % V, flags)
    c.conns()
    c.sysctl('conn_reuse_mode', 2)
    c.tcp('%s:31001' % C, '%s:80' % V, 'A')
    c.tcp('%s:31001' % C, '%s:80' % V, 'FA')
    c.tcp('%s:31001' % C, '%s:80' % V, 'S')
    c.conns()
    c.sysctl('conn_reuse_mode', 0)
    c.tcp('%s:31002' % C, '%s:80' % V, 'S')
    c.tcp('%s:31002' % C, '%s:80' % V, 'F')
    c.tcp('%s:31002' % C, '%s:80' % V, 'S')
    c.conns()
    c.dests()


def nodest_drop_revive(c):
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R1))
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R2))
    for i in range(4):
        c.tcp('%s:%d' % (C, 30000 + i), '%s:80' % V, 'S')
    c.sleep(2.2)
    c.stats()
    c.ipvsadm('-d -t %s:80 -r %s' % (V, R2))
    c.tcp('%s:30000' % C, '%s:80' % V, 'A')
    c.tcp('%s:30000' % C, '%s:80' % V, 'S')
    c.tcp('%s:30001' % C, '%s:80' % V, 'A')
    c.conns()
    c.dests()
    c.sleep(2.2)
    c.stats()
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R2))
    c.tcp('%s:30000' % C, '%s:80' % V, 'A')
    c.conns()
    c.dests()


def nodest_expire(c):
    c.sysctl('expire_nodest_conn', 1)
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R1))
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R2))
    for i in range(4):
        c.tcp('%s:%d' % (C, 30000 + i), '%s:80' % V, 'S')
    c.ipvsadm('-d -t %s:80 -r %s' % (V, R1))
    c.conns()
    c.dests()
    c.ipvsadm('-A -t 192.0.2.2:80 -s rr -p 300')
    c.ipvsadm('-a -t 192.0.2.2:80 -r %s' % R1)
    c.ipvsadm('-a -t 192.0.2.2:80 -r %s' % R2)
    c.tcp('203.0.113.7:1000', '192.0.2.2:80', 'S')
    c.tcp('203.0.113.7:1000', '192.0.2.2:80', 'A')
    c.tcp('203.0.113.8:1000', '192.0.2.2:80', 'S')
    c.conns()
    c.ipvsadm('-e -t 192.0.2.2:80 -r %s -w 0' % R1)
    c.tcp('203.0.113.8:1000', '192.0.2.2:80', 'S')
    c.tcp('203.0.113.8:1000', '192.0.2.2:80', 'A')
    c.ipvsadm('-d -t 192.0.2.2:80 -r %s' % R2)
    c.conns()
    c.dests()


def thresholds(c):
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s -x 3' % (V, R1))
    c.ipvsadm('-a -t %s:80 -r %s -x 2 -y 1' % (V, R2))
    for i in range(8):
        c.tcp('%s:%d' % (C, 33000 + i), '%s:80' % V, 'S')
    c.dests()
    c.tcp('%s:33001' % C, '%s:80' % V, 'F')
    c.tcp('%s:33003' % C, '%s:80' % V, 'F')
    c.tcp('%s:33008' % C, '%s:80' % V, 'S')
    c.conns()
    c.dests()


def nat_states(c):
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s:8080 -m' % (V, R1))
    cl, rs = '%s:5000' % C, '%s:8080' % R1
    for d, flags, data in [('in', 'S', 0), ('out', 'SA', 0), ('in', 'A', 0), ('in', 'PA', 100),
                           ('out', 'PA', 300), ('out', 'FA', 0), ('in', 'A', 0), ('in', 'FA', 0), ('out', 'A', 0)]:
        if d == 'in':
            c.tcp(cl, '%s:80' % V, flags, data)
        else:
            c.tcp(rs, cl, flags, data)
        c.conns()
    c.dests()
    cl2 = '%s:5001' % C
    for d, flags in [('in', 'S'), ('out', 'SA'), ('in', 'A'), ('in', 'FA'), ('out', 'A'), ('out', 'FA'), ('in', 'A'), ('out', 'R'), ('in', 'R')]:
        if d == 'in':
            c.tcp(cl2, '%s:80' % V, flags)
        else:
            c.tcp(rs, cl2, flags)
        c.conns()
    c.tcp(rs, '%s:5999' % C, 'A')
    c.sysctl('nat_icmp_send', 1)
    c.tcp(rs, '%s:5999' % C, 'A')
    c.tcp(rs, '%s:5999' % C, 'R')
    c.ipvsadm('-A -u %s:53 -s rr -p 60' % V)
    c.ipvsadm('-a -u %s:53 -r %s -m' % (V, R2))
    c.udp('%s:6000' % C, '%s:53' % V)
    c.udp('%s:53' % R2, '%s:6000' % C, 40)
    c.udp('203.0.113.2:6000', '%s:53' % V)
    c.conns()
    c.sleep(2.2)
    c.stats()


def secure_tcp(c):
    c.sysctl('secure_tcp', 3)
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s -m' % (V, R1))
    cl, rs = '%s:7000' % C, '%s:80' % R1
    for d, flags in [('in', 'S'), ('in', 'A'), ('out', 'SA'), ('in', 'A'), ('out', 'A')]:
        if d == 'in':
            c.tcp(cl, '%s:80' % V, flags)
        else:
            c.tcp(rs, cl, flags)
        c.conns()
    c.ipvsadm('-A -t 192.0.2.2:80 -s rr')
    c.ipvsadm('-a -t 192.0.2.2:80 -r %s -g' % R2)
    c.tcp('%s:7001' % C, '192.0.2.2:80', 'S')
    c.conns()
    c.dests()
    c.tcp('%s:7001' % C, '192.0.2.2:80', 'A')
    c.conns()
    c.sysctl('secure_tcp', 0)
    c.tcp('%s:7002' % C, '192.0.2.2:80', 'S')
    c.conns()


def drop_packet(c):
    c.ipvsadm('-A -u %s:53 -s rr' % V)
    c.ipvsadm('-a -u %s:53 -r %s' % (V, R1))
    c.sysctl('drop_packet', 3)
    for i in range(21):
        c.udp('%s:%d' % (C, 1000 + i), '%s:53' % V)
    for i in range(12):
        c.udp('%s:1001' % C, '%s:53' % V)
    c.dests()


def sctp_dr(c):
    c.ipvsadm('-A --sctp-service %s:3868 -s rr' % V)
    c.ipvsadm('-a --sctp-service %s:3868 -r %s' % (V, R1))
    c.ipvsadm('-a --sctp-service %s:3868 -r %s' % (V, R2))
    cl = '%s:5000' % C
    c.sctp(cl, '%s:3868' % V, 'DATA')
    for ch in ['INIT', 'INIT', 'COOKIE_ECHO', 'DATA']:
        c.sctp(cl, '%s:3868' % V, ch)
        c.conns()
    c.dests()
    c.sctp(cl, '%s:3868' % V, 'ABORT')
    c.conns()
    c.dests()
    c.sctp(cl, '%s:3868' % V, 'INIT')
    c.sctp('%s:5001' % C, '%s:3868' % V, 'ABORT')
    c.sctp('%s:5002' % C, '%s:3868' % V, 'INIT')
    c.sctp('%s:5002' % C, '%s:3868' % V, 'COOKIE_ECHO', 'ABORT')
    c.conns()
    c.sysctl('sloppy_sctp', 1)
    c.sctp('%s:5003' % C, '%s:3868' % V, 'DATA')
    c.conns()
    c.dests()


def ipv6(c):
    c.ipvsadm('-A -u [2001:db8:2::1]:53 -s rr')
    c.ipvsadm('-a -u [2001:db8:2::1]:53 -r [2001:db8:5::11]:5353 -m')
    c.udp('[2001:db8:c::100]:40000', '[2001:db8:2::1]:53', 5)
    c.udp('[2001:db8:c::100]:40000', '[2001:db8:2::1]:53', 5)
    c.udp('[2001:db8:5::11]:5353', '[2001:db8:c::100]:40000', 7)
    c.ipvsadm('-A -t [2001:db8:2::1]:80 -s rr -p 60 -M 64')
    c.ipvsadm('-a -t [2001:db8:2::1]:80 -r 2001:db8:5::11')
    c.ipvsadm('-a -t [2001:db8:2::1]:80 -r 2001:db8:5::12')
    c.tcp('[2001:db8:c::7]:1000', '[2001:db8:2::1]:80', 'S')
    c.tcp('[2001:db8:c:0:1::8]:1000', '[2001:db8:2::1]:80', 'S')
    c.tcp('[2001:db8:c:1::9]:1000', '[2001:db8:2::1]:80', 'S')
    c.conns()
    c.dests()
    c.sleep(2.2)
    c.stats()


def bypass_ftp(c):
    c.ipvsadm('-A -f 9 -s rr')
    c.sysctl('cache_bypass', 1)
    c.tcp('%s:5000' % C, '192.0.2.99:80' , 'S', mark=9)
    c.tcp('%s:5000' % C, '192.0.2.99:80', 'A', mark=9)
    c.ipvsadm('-A -t 192.0.2.21:21 -s rr')
    c.ipvsadm('-a -t 192.0.2.21:21 -r %s' % R1)
    c.tcp('%s:20' % C, '192.0.2.21:21', 'S')
    c.tcp('%s:4000' % C, '192.0.2.21:30000', 'S')
    c.tcp('%s:4001' % C, '192.0.2.21:21', 'S')
    c.ipvsadm('-A -u 192.0.2.30:53 -s rr')
    c.ipvsadm('-a -u 192.0.2.30:53 -r %s -w 0' % R1)
    c.udp('%s:4002' % C, '192.0.2.30:53')
    c.conns()
    c.dests()
    c.sleep(2.2)
    c.stats()


def set_timeouts(c):
    c.ipvsadm('--set 3600 60 600')
    c.ipvsadm('-A -t %s:80 -s rr' % V)
    c.ipvsadm('-a -t %s:80 -r %s' % (V, R1))
    c.ipvsadm('-A -u %s:53 -s rr' % V)
    c.ipvsadm('-a -u %s:53 -r %s' % (V, R1))
    c.tcp('%s:1' % C, '%s:80' % V, 'S')
    c.tcp('%s:1' % C, '%s:80' % V, 'A')
    c.tcp('%s:2' % C, '%s:80' % V, 'S')
    c.tcp('%s:2' % C, '%s:80' % V, 'A')
    c.tcp('%s:2' % C, '%s:80' % V, 'F')
    c.udp('%s:3' % C, '%s:53' % V)
    c.conns()
    c.ipvsadm('--set 0 0 5')
    c.conns()
    c.udp('%s:3' % C, '%s:53' % V)
    c.conns()


CASES = [
    ('tcp-dr-states', 'TCP through a DR dest: SYN_RECV, ESTABLISHED, FIN_WAIT; RST, FIN, stray ACK, sloppy_tcp', tcp_dr_states),
    ('udp-timeout-overload', 'UDP entries with a 5 s timeout: expiry from the last packet and the OVERLOAD hysteresis of -x 4', udp_timeout_overload),
    ('persist-basic', 'persistence: per-client templates, -M 255.255.255.0, a port-0 service, counters', persist_basic),
    ('persist-fwmark', 'fwmark persistence: 0.0.0.7 templates with protocol IP, ports kept', persist_fwmark),
    ('persist-template-life', 'a 2 s template re-armed by new connections and kept 60 s more while it controls some', persist_template_life),
    ('persist-invalidate', 'templates of a quiescent dest (expire_quiescent_template) and of a deleted dest are invalidated', persist_invalidate),
    ('one-packet', 'one-packet scheduling: no entries, conns counted per datagram, templates kept, TCP unaffected', one_packet),
    ('conn-reuse', 'conn_reuse_mode 1, 2 and 0 on TIME_WAIT and DR FIN_WAIT entries', conn_reuse),
    ('nodest-drop-revive', 'entries of a deleted dest: packets dropped and not counted; the dest revives from the trash', nodest_drop_revive),
    ('nodest-expire', 'expire_nodest_conn: a deleted dest is flushed with its templates; SYNs to a weight-0 dest rescheduled', nodest_expire),
    ('thresholds', 'upper and lower thresholds: rr skips OVERLOAD dests; TIME_WAIT entries still count', thresholds),
    ('nat-states', 'NAT: server replies run the OUTPUT rows, count out, nat_icmp_send; a UDP reply assures its template', nat_states),
    ('secure-tcp', 'secure_tcp=3: the stricter table for NAT and DR entries, and back', secure_tcp),
    ('drop-packet', 'drop_packet=3: one of every am_droprate (10) new-connection packets is dropped', drop_packet),
    ('sctp-dr', 'SCTP through a DR dest: INIT1, INIT, ESTABLISHED, CLOSED; ABORT, bundled ABORT, sloppy_sctp', sctp_dr),
    ('ipv6', 'IPv6: a NAT UDP entry with its reply, persistence on a /64 client prefix', ipv6),
    ('bypass-ftp', 'cache_bypass entries of a fwmark service without dests; FTP port rules; no destination', bypass_ftp),
    ('set-timeouts', '--set 3600 60 600: ESTABLISHED, FIN_WAIT and UDP timeouts at the next packet', set_timeouts),
]

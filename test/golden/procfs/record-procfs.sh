#!/bin/bash
# Records the kernel's IPVS /proc files for test/control/procfs.test.ts: /proc/net/ip_vs for a
# table that has every service-line shape (IPv4/IPv6/fwmark, persistent with IPv4 and IPv6
# masks, one-packet, SCTP, port 0, schedulers with flags) and, after a few raw packets,
# /proc/net/ip_vs, ip_vs_stats and ip_vs_conn together with `ipvsadm -L -n` (netlink, an
# independent view of the same counters) taken at the same moment.
# Run it in the IPVS oracle VM as root, from the repository root:
#   ipvs-oracle run test/golden/procfs/record-procfs.sh /tmp/rec && cp /tmp/rec/*.txt test/golden/procfs/
# The table is given as an ipvsadm -R file (rules.txt, written below and saved beside the
# goldens), so the test builds the same table in the same order through tslvs's rules parser.
set -e
OUT=${ORACLE_DIR:-/tmp/oracle}
cd "$OUT"
ip link set lo up
ip link add dummy0 type dummy
ip link set dummy0 up
ip addr add 198.51.100.1/24 dev dummy0
ip -6 addr add 2001:db8:1::1/64 dev dummy0
ip route add 192.0.2.0/24 dev dummy0
cat > rules.txt <<'RULES'
-A -t 192.0.2.10:80 -s wrr
-a -t 192.0.2.10:80 -r 198.51.100.11:80 -g -w 3
-a -t 192.0.2.10:80 -r 198.51.100.12:8080 -m -w 0
-a -t 192.0.2.10:80 -r 198.51.100.13:80 -i -w 1 -x 100 -y 10
-A -u 192.0.2.10:53 -s rr -o
-a -u 192.0.2.10:53 -r 198.51.100.11:53 -g -w 1
-A -t 192.0.2.20:443 -s sh -p 300 -M 255.255.255.0
-a -t 192.0.2.20:443 -r 198.51.100.21:443 -g -w 1
-A -f 4097 -s lc -p 360
-a -f 4097 -r 198.51.100.31:0 -g -w 5
-A -f 7 -s wlc
-a -f 7 -r 198.51.100.32:0 -m -w 2
-A -f 8 -s rr -o
-A -t [2001:db8::10]:80 -s rr
-a -t [2001:db8::10]:80 -r [2001:db8:1::11]:80 -g -w 1
-A -t [2001:db8::10]:443 -s rr -p 30 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8:1::12]:443 -m -w 4
-A -u [2001:db8::10]:53 -s rr -o
-A --sctp-service 192.0.2.30:5000 -s rr
-a --sctp-service 192.0.2.30:5000 -r 198.51.100.41:5000 -g -w 1
-A -t 192.0.2.40:0 -s rr -p 60
-a -t 192.0.2.40:0 -r 198.51.100.51:0 -g -w 1
-A -t 192.0.2.50:80 -s mh -b mh-port,mh-fallback
-a -t 192.0.2.50:80 -r 198.51.100.61:80 -g -w 1
-a -t 192.0.2.50:80 -r 198.51.100.62:80 -m -w 2
RULES
ipvsadm -R < rules.txt
{ echo "# /proc/net/ip_vs after ipvsadm -R < rules.txt ($(uname -r))"; cat /proc/net/ip_vs; } > ip_vs-table.txt
{ echo "# /proc/net/ip_vs_stats after ipvsadm -R < rules.txt ($(uname -r))"; cat /proc/net/ip_vs_stats; } > ip_vs_stats-table.txt

# Traffic: raw TCP SYNs and UDP datagrams from 203.0.113.0/24 (the VM's own output path, which
# IPVS hooks at LOCAL_OUT), so there are connection entries, templates and counters.
python3 - <<'PY'
import socket, struct
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def ip(src, dst, proto, body):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), 1, 0x4000, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    raw.sendto(h + body, (dst, 0))
def pseudo(src, dst, proto, n):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, proto, n)
def syn(src, sport, dst, dport):
    th = struct.pack('!HHIIBBHHH', sport, dport, 1000, 0, 5 << 4, 2, 65535, 0, 0)
    c = csum(pseudo(src, dst, 6, 20) + th)
    ip(src, dst, 6, th[:16] + struct.pack('!H', c) + th[18:])
def udp(src, sport, dst, dport, data=b'0123456789'):
    uh = struct.pack('!HHHH', sport, dport, 8 + len(data), 0)
    c = csum(pseudo(src, dst, 17, 8 + len(data)) + uh + data) or 0xffff
    ip(src, dst, 17, struct.pack('!HHHH', sport, dport, 8 + len(data), c) + data)
for i in range(5): syn('203.0.113.2', 40000 + i, '192.0.2.10', 80)
for i in range(3): udp('203.0.113.3', 50000 + i, '192.0.2.10', 53)
for i in range(2): syn('203.0.113.4', 41000 + i, '192.0.2.20', 443)
syn('203.0.113.5', 42000, '192.0.2.40', 8080)
syn('203.0.113.6', 43000, '192.0.2.50', 80)
syn('203.0.113.7', 43001, '192.0.2.50', 80)
PY
# The estimator folds the counters every 2 s: wait for a tick, then read everything at once.
sleep 3
{ echo "# /proc/net/ip_vs after traffic ($(uname -r))"; cat /proc/net/ip_vs; } > ip_vs-traffic.txt
{ echo "# /proc/net/ip_vs_stats after traffic ($(uname -r))"; cat /proc/net/ip_vs_stats; } > ip_vs_stats-traffic.txt
{ echo "# /proc/net/ip_vs_conn after traffic ($(uname -r))"; cat /proc/net/ip_vs_conn; } > ip_vs_conn-traffic.txt
{ echo "# ipvsadm -L -n after traffic ($(uname -r))"; ipvsadm -L -n; } > ipvsadm-L-traffic.txt
{ echo "# ipvsadm -L -n --stats --exact after traffic ($(uname -r))"; ipvsadm -L -n --stats --exact; } > ipvsadm-stats-traffic.txt
ls -l "$OUT"

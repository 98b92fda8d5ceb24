#!/bin/bash
# Proves that -S/-R round-trip between the real ipvsadm and tslvsadm, in both directions, inside
# the IPVS oracle VM (real kernel, real ipvsadm, and tslvs from this checkout, built):
#   ipvs-oracle run test/golden/ipvsadm/record-roundtrip.sh /tmp/rt && cp /tmp/rt/roundtrip* test/golden/ipvsadm/
# 1. a table built with the real ipvsadm, saved by `ipvsadm-save -n` (and `ipvsadm-save`, with
#    names), restores into tslvs unchanged: `tslvsadm -S -n` and `-L -n` equal ipvsadm's;
# 2. `tslvsadm -S -n` (and `-S`) of a table built with tslvsadm restores into the real ipvsadm,
#    whose `-S -n` and `-L -n` then equal tslvsadm's.
# The table avoids addresses whose sort order is cyclic under ipvsadm's comparator (e.g. 10.x,
# 127.x and 192.x together), which would make the service order depend on the kernel's hash
# order; IPv6 addresses have no host name, since ipvsadm cannot restore "[name]:port" itself.
# Names are resolved by the system (no TSLVSADM_HOSTS_FILE): this also checks that tslvsadm's
# getnameinfo/getaddrinfo answers are the ones ipvsadm gets from gethostbyaddr/gethostbyname.
set -u
OUT=${ORACLE_DIR:-/tmp/oracle}
# The checkout to use: the path written to $ORACLE_DIR/repo before the run, else the first
# bin/tslvsadm.js found on the (read-only, shared) host file system.
REPO=$(cat "${ORACLE_DIR:-/tmp/oracle}/repo" 2>/dev/null || true)
if [ ! -f "${REPO:-/nonexistent}/bin/tslvsadm.js" ]; then
  f=$(find / -maxdepth 4 \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \) -prune -o -path '*/bin/tslvsadm.js' -print 2>/dev/null | head -1)
  REPO=$(dirname "$(dirname "$f")")
fi
cat > /tmp/hosts <<'HOSTS'
127.0.0.1	localhost
192.0.2.10	rs1.example.org rs1
192.0.2.5	vip.example.org vip
198.51.100.20	a-very-long-real-server-hostname.example.org
HOSTS
mount --bind /tmp/hosts /etc/hosts
: > /tmp/resolv.conf
mount --bind /tmp/resolv.conf /etc/resolv.conf
ip link set lo up
ip link add dummy0 type dummy; ip link set dummy0 up
ip addr add 192.168.1.1/24 dev dummy0; ip -6 addr add 2001:db8:1::1/64 dev dummy0
ip route add default dev dummy0; ip -6 route add default dev dummy0

node "$REPO/bin/tslvs.js" run --dataplane none --socket /tmp/tslvs.sock --state-dir /tmp/tslvs-state > /tmp/tslvs.log 2>&1 &
DAEMON=$!
for i in $(seq 1 100); do [ -S /tmp/tslvs.sock ] && break; sleep 0.2; done
export TSLVS_SOCKET=/tmp/tslvs.sock
T="node $REPO/bin/tslvsadm.js"

build() { # $1: ipvsadm or tslvsadm command
  local A=$1
  $A -A -t 192.168.1.230:80 -s rr
  $A -a -t 192.168.1.230:80 -r 192.168.1.100 -g
  $A -a -t 192.168.1.230:80 -r 192.168.1.201 -g -w 1
  $A -a -t 192.168.1.230:80 -r 10.0.0.5 -m -w 7
  $A -A -t 10.0.0.1:80 -s wlc -p 300 -M 255.255.255.0
  $A -a -t 10.0.0.1:80 -r 192.168.1.50:8080 -m -w 5 -x 100 -y 50
  $A -a -t 10.0.0.1:80 -r 192.168.1.51 -i -w 0
  $A -a -t 10.0.0.1:80 -r 192.168.1.52 -i --tun-type gue --tun-port 6080 --tun-csum
  $A -a -t 10.0.0.1:80 -r 192.168.1.53 -i --tun-type gue --tun-port 6081 --tun-remcsum
  $A -a -t 10.0.0.1:80 -r 192.168.1.54 -i --tun-type gre --tun-csum
  $A -a -t 10.0.0.1:80 -r 192.168.1.55 -i --tun-type gre
  $A -a -t 10.0.0.1:80 -r 2001:db8:1::9 -i
  $A -A -t [2001:db8::1]:443 -s sh -b sh-port,sh-fallback
  $A -a -t [2001:db8::1]:443 -r [2001:db8:1::10]:8443 -m -w 4
  $A -a -t [2001:db8::1]:443 -r 2001:db8:1::11 -g
  $A -A -t [2001:db8::2]:80 -s wrr -p 60 -M 64
  $A -A -f 100 -s lblcr -p
  $A -a -f 100 -r 192.168.1.70 -g
  $A -a -f 100 -r 192.168.1.71:8080 -m
  $A -A -f 101 -6 -s mh -b mh-port,mh-fallback
  $A -a -f 101 -6 -r [2001:db8:1::12]:80 -m
  $A -A -u 10.0.0.2:53 -s rr -o
  $A -a -u 10.0.0.2:53 -r 192.168.1.60:5353 -m
  $A -A -u 10.0.0.9:5060 -s rr -p 30 --pe sip
  $A -A -t 10.0.0.10:80 -s wrr -b flag-2
  $A -A --sctp-service 192.168.1.64:3868 -s rr
  $A -a --sctp-service 192.168.1.64:3868 -r 192.168.1.65 -m -w 2
  $A -A -t 10.0.0.3:8080 -s none
  $A -A -t vip.example.org:http -s rr
  $A -a -t vip:http -r rs1:http -m
  $A -a -t vip:http -r a-very-long-real-server-hostname.example.org:8080 -m
  $A -A -t [2001:db8::3]:https -s rr
  $A -a -t [2001:db8::3]:443 -r [2001:db8:1::7]:443 -m
  $A -A -t rs1:ftp -s rr
}

same() { # $1 label, $2 file a, $3 file b
  if cmp -s "$2" "$3"; then echo "$1: identical"; else echo "$1: DIFFERENT"; diff "$2" "$3" | sed 's/^/  /'; fi
}

ipvsadm -C; build ipvsadm
ipvsadm-save -n > /tmp/kernel-save-n.txt
ipvsadm-save > /tmp/kernel-save.txt
ipvsadm -L -n > /tmp/kernel-list-n.txt
ipvsadm -L > /tmp/kernel-list.txt
{
  echo "# round trip, recorded by record-roundtrip.sh ($(uname -r), $(ipvsadm -v))"
  echo "## 1. real ipvsadm-save -n, restored into tslvs"
  $T -C; $T -R < /tmp/kernel-save-n.txt; echo "tslvsadm -R exit $?"
  $T -S -n > /tmp/t1-save-n.txt; $T -L -n > /tmp/t1-list-n.txt; $T -S > /tmp/t1-save.txt; $T -L > /tmp/t1-list.txt
  same "tslvsadm -S -n vs ipvsadm-save -n" /tmp/t1-save-n.txt /tmp/kernel-save-n.txt
  same "tslvsadm -L -n vs ipvsadm -L -n" /tmp/t1-list-n.txt /tmp/kernel-list-n.txt
  same "tslvsadm -S vs ipvsadm-save" /tmp/t1-save.txt /tmp/kernel-save.txt
  same "tslvsadm -L vs ipvsadm -L" /tmp/t1-list.txt /tmp/kernel-list.txt
  echo "## 1b. real ipvsadm-save (names), restored into tslvs"
  $T -C; $T -R < /tmp/kernel-save.txt; echo "tslvsadm -R exit $?"
  $T -S -n > /tmp/t1b-save-n.txt
  same "tslvsadm -S -n vs ipvsadm-save -n" /tmp/t1b-save-n.txt /tmp/kernel-save-n.txt
  echo "## 2. tslvsadm -S -n of a table built with tslvsadm, restored into the real ipvsadm"
  $T -C; build "$T"
  $T -S -n > /tmp/t2-save-n.txt; $T -S > /tmp/t2-save.txt; $T -L -n > /tmp/t2-list-n.txt; $T -L > /tmp/t2-list.txt
  ipvsadm -C; ipvsadm -R < /tmp/t2-save-n.txt; echo "ipvsadm -R exit $?"
  ipvsadm -S -n > /tmp/k2-save-n.txt; ipvsadm -L -n > /tmp/k2-list-n.txt; ipvsadm -L > /tmp/k2-list.txt
  same "ipvsadm -S -n vs tslvsadm -S -n" /tmp/k2-save-n.txt /tmp/t2-save-n.txt
  same "ipvsadm -L -n vs tslvsadm -L -n" /tmp/k2-list-n.txt /tmp/t2-list-n.txt
  same "ipvsadm -L vs tslvsadm -L" /tmp/k2-list.txt /tmp/t2-list.txt
  echo "## 2b. tslvsadm -S (names) restored into the real ipvsadm (ipvsadm-restore)"
  ipvsadm-restore < /tmp/t2-save.txt; echo "ipvsadm-restore exit $?"
  ipvsadm -S -n > /tmp/k2b-save-n.txt
  same "ipvsadm -S -n vs tslvsadm -S -n" /tmp/k2b-save-n.txt /tmp/t2-save-n.txt
} > "$OUT/roundtrip.txt" 2>&1
cp /etc/hosts "$OUT/roundtrip-etc-hosts"
cp /tmp/kernel-save-n.txt "$OUT/roundtrip-ipvsadm-save-n.txt"
cp /tmp/kernel-save.txt "$OUT/roundtrip-ipvsadm-save.txt"
cp /tmp/kernel-list-n.txt "$OUT/roundtrip-ipvsadm-list-n.txt"
cat "$OUT/roundtrip.txt"
kill $DAEMON; wait $DAEMON 2>/dev/null

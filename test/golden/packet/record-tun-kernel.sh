#!/bin/sh
# Records how the real kernel's IPVS encapsulates a client's SYN for a tunnel destination (IPIP,
# GUE to port 6080, GRE without and with checksum), as seen on the real server's link: test/golden/packet/tun-kernel.txt.
# Runs itself inside the IPVS oracle VM:
#   IPVS_ORACLE=/path/to/ipvs-oracle test/golden/packet/record-tun-kernel.sh
# (build first: npm run build && npm run build:native; the VM sees this checkout read-only).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != "--inside" ]; then
  oracle=${IPVS_ORACLE:?set IPVS_ORACLE to the ipvs-oracle script}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  printf '#!/bin/sh\nexec sh %s/record-tun-kernel.sh --inside\n' "$here" > "$tmp/case.sh"
  ORACLE_TIMEOUT=${ORACLE_TIMEOUT:-900} "$oracle" run "$tmp/case.sh" "$tmp/out" >/dev/null || true
  cp "$tmp/out/out.txt" "$here/tun-kernel.txt"
  cat "$here/tun-kernel.txt"
  exit 0
fi
# ---- inside the VM ----
modprobe ip_vs; modprobe ipip || true
ip link add br0 type bridge; ip link set br0 up
for n in cl dir rs; do
  ip netns add $n
  ip -n $n link set lo up
  ip link add v$n type veth peer name eth0 netns $n
  ip link set v$n master br0; ip link set v$n up
  ip -n $n link set eth0 up
done
ip -n cl addr add 198.51.100.100/24 dev eth0
ip -n dir addr add 198.51.100.1/24 dev eth0
ip -n rs addr add 198.51.100.11/24 dev eth0
ip -n dir addr add 203.0.113.10/32 dev lo
ip -n cl route add 203.0.113.10/32 via 198.51.100.1
ip netns exec dir ipvsadm -A -t 203.0.113.10:80 -s rr
ip netns exec dir ipvsadm -a -t 203.0.113.10:80 -r 198.51.100.11 -i
ip netns exec dir ipvsadm -A -t 203.0.113.10:81 -s rr
ip netns exec dir ipvsadm -a -t 203.0.113.10:81 -r 198.51.100.11 -i --tun-type gue --tun-port 6080
ip netns exec dir ipvsadm -A -t 203.0.113.10:82 -s rr
ip netns exec dir ipvsadm -a -t 203.0.113.10:82 -r 198.51.100.11 -i --tun-type gre
ip netns exec dir ipvsadm -A -t 203.0.113.10:83 -s rr
ip netns exec dir ipvsadm -a -t 203.0.113.10:83 -r 198.51.100.11 -i --tun-type gre --tun-csum
echo "kernel: $(uname -r)"
ip netns exec dir ipvsadm -S -n
node "$here/capture.mjs" rs 150 > "$ORACLE_DIR/frames.txt" &
cap=$!
sleep 60
ip netns exec cl curl -s -m 5 http://203.0.113.10:80/ || true
ip netns exec cl curl -s -m 5 http://203.0.113.10:81/ || true
ip netns exec cl curl -s -m 5 http://203.0.113.10:82/ || true
ip netns exec cl curl -s -m 5 http://203.0.113.10:83/ || true
wait $cap
cat "$ORACLE_DIR/frames.txt"

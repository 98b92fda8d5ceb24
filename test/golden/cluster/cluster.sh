#!/bin/bash
# The seed's cluster in network namespaces, the same for the kernel recording (record-cluster.sh,
# inside the IPVS oracle VM) and for tslvs (test/e2e/cluster-golden.test.ts, on the test
# machine): one bridge; a client, a director and two real servers; a page server on each real
# server. Only the director differs: real IPVS here ("kernel-director"), tslvs in the test.
#
#   cluster.sh ID up dr|nat          namespaces ID-cl ID-dir ID-rs1 ID-rs2, bridge tID (ID: <=10 chars)
#   cluster.sh ID realservers dr|nat the seed's real-server script with iproute2 (kernel side;
#                                    the tslvs test runs "tslvs realserver start" instead)
#   cluster.sh ID kernel-director dr|nat   the seed's director script: VIP on eth0 (+ forwarding for NAT)
#   cluster.sh ID curl N             N requests from the client, one after the other; prints the pages
#   cluster.sh ID down               kills what runs in the namespaces, removes them and the bridge
#
# Addresses (documentation ranges): VIP 203.0.113.10; director 198.51.100.1/24 (NAT: also
# 192.0.2.1/24, the client's side); real servers 198.51.100.11 and .12; client 198.51.100.100
# (DR, on the real servers' link) or 192.0.2.100 (NAT, routed through the director).
#
# Why "quickack 1" on the client's and real servers' routes: with delayed ACKs, whether an ACK
# travels alone or rides on the next segment depends on how fast curl or the server reacts
# (40 ms), so the packet and byte counters would depend on the machine's speed — and the oracle
# VM emulates its CPU. With immediate ACKs every request is the same sequence of segments
# (client: SYN, ACK, request, ACK of the page, ACK of the server's FIN, FIN), anywhere.
set -eu
ID=$1; ACTION=$2; MODE=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
VIP=203.0.113.10
RS=(198.51.100.11 198.51.100.12)
BR=t${ID}
CURL_ARGS=(-s --http1.0 -A seed-cluster -m 10)
n() { ip netns exec "$ID-$1" "${@:2}"; }

case $ACTION in
up)
  ip link add "$BR" type bridge
  ip link set "$BR" up
  i=0
  for role in cl dir rs1 rs2; do
    ip netns add "$ID-$role"
    ip -n "$ID-$role" link set lo up
    ip link add "$BR$i" type veth peer name eth0 netns "$ID-$role"
    ip link set "$BR$i" master "$BR"
    ip link set "$BR$i" up
    ip -n "$ID-$role" link set eth0 up
    i=$((i + 1))
  done
  ip -n "$ID-dir" addr add 198.51.100.1/24 dev eth0
  if [ "$MODE" = nat ]; then
    ip -n "$ID-dir" addr add 192.0.2.1/24 dev eth0
    ip -n "$ID-cl" addr add 192.0.2.100/24 dev eth0
    ip -n "$ID-cl" route add "$VIP/32" via 192.0.2.1 quickack 1
  else
    ip -n "$ID-cl" addr add 198.51.100.100/24 dev eth0
    ip -n "$ID-cl" route add "$VIP/32" dev eth0 quickack 1
  fi
  for i in 0 1; do
    ns=$ID-rs$((i + 1))
    ip -n "$ns" addr add "${RS[$i]}/24" dev eth0
    if [ "$MODE" = nat ]; then
      ip -n "$ns" route add 192.0.2.100/32 via 198.51.100.1 quickack 1
    else
      ip -n "$ns" route add 198.51.100.100/32 dev eth0 quickack 1
    fi
    n "rs$((i + 1))" setsid node "$HERE/page-server.mjs" 80 "real server $((i + 1))" </dev/null >/dev/null 2>&1 &
  done
  # Until both page servers answer (node starts slowly in the emulated VM).
  for i in 0 1; do
    for t in $(seq 1 300); do
      if n "rs$((i + 1))" curl "${CURL_ARGS[@]}" -o /dev/null "http://${RS[$i]}/"; then break; fi
      sleep 0.2
    done
  done
  ;;
realservers)
  for i in 0 1; do
    if [ "$MODE" = nat ]; then
      ip -n "$ID-rs$((i + 1))" route add default via 198.51.100.1
    else
      ip -n "$ID-rs$((i + 1))" addr add "$VIP/32" dev lo
      n "rs$((i + 1))" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
        net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
    fi
  done
  ;;
kernel-director)
  ip -n "$ID-dir" addr add "$VIP/32" dev eth0
  if [ "$MODE" = nat ]; then
    # The kernel's IPVS rewrites NAT replies in the forwarding path, so it needs forwarding on.
    # Redirects off: replies leave by the interface they came in on, and the kernel would
    # otherwise tell the real servers about a shorter path they cannot use.
    n dir sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
  fi
  ;;
curl)
  for i in $(seq 1 "$MODE"); do
    n cl curl "${CURL_ARGS[@]}" "http://$VIP/"
    sleep 0.3
  done
  ;;
down)
  for role in cl dir rs1 rs2; do
    if [ -e "/run/netns/$ID-$role" ]; then
      for pid in $(ip netns pids "$ID-$role"); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ID-$role" || true
    fi
  done
  ip link del "$BR" 2>/dev/null || true
  ;;
*)
  echo "usage: cluster.sh ID up|realservers|kernel-director|curl|down [dr|nat|N]" >&2
  exit 2
  ;;
esac

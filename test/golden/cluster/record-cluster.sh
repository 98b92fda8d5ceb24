#!/bin/bash
# Records the seed's cluster through the real kernel's IPVS, for test/e2e/cluster-golden.test.ts:
# for each case, cluster.sh builds the network (client, director, two real servers on one
# bridge), the director is the seed's (VIP on eth0; forwarding for NAT) with the case's ipvsadm
# lines, the client runs curl N times, and after 3 s (the rate estimator runs every 2 s) the
# director's `ipvsadm -L -n`, `-L -n --stats` and `-L -n -c` are written below the pages curl got.
#
# Cases: the seed's DR steps (rr, -g), its NAT script (rr, -m), its director script (wlc,
# -g -w 1 / -w 2).
#
# Usage (from anywhere; builds nothing, needs only the ipvs-oracle tool):
#   IPVS_ORACLE=/path/to/ipvs-oracle test/golden/cluster/record-cluster.sh
# The VM sees this checkout read-only; the goldens are copied here afterwards.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" != --inside ]; then
  oracle=${IPVS_ORACLE:?set IPVS_ORACLE to the ipvs-oracle script}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  printf '#!/bin/bash\nexec bash %q --inside "$ORACLE_DIR"\n' "$here/record-cluster.sh" > "$tmp/case.sh"
  ORACLE_TIMEOUT=${ORACLE_TIMEOUT:-900} "$oracle" run "$tmp/case.sh" "$tmp/out" || { cat "$tmp/out/out.txt" 2>/dev/null; exit 1; }
  cp "$tmp"/out/*-*.txt "$here/"
  ls "$tmp"/out/*-*.txt
  exit 0
fi

out=$2
VIP=203.0.113.10
modprobe ip_vs 2>/dev/null || true

# record NAME MODE N 'ipvsadm args' ...
record() {
  local name=$1 mode=$2 count=$3
  shift 3
  local id=sc$$
  bash "$here/cluster.sh" "$id" down
  bash "$here/cluster.sh" "$id" up "$mode"
  bash "$here/cluster.sh" "$id" realservers "$mode"
  bash "$here/cluster.sh" "$id" kernel-director "$mode"
  {
    echo "# The seed's cluster ($mode) through the real kernel's IPVS, recorded by record-cluster.sh"
    echo "# kernel: $(uname -r); $(ipvsadm --version 2>&1 | head -1)"
    for cmd in "$@"; do
      echo "\$ ipvsadm $cmd"
      # shellcheck disable=SC2086
      ip netns exec "$id-dir" ipvsadm $cmd
    done
    echo "\$ curl x$count"
    bash "$here/cluster.sh" "$id" curl "$count"
    sleep 3
    echo "\$ ipvsadm -L -n"
    ip netns exec "$id-dir" ipvsadm -L -n
    echo "\$ ipvsadm -L -n --stats"
    ip netns exec "$id-dir" ipvsadm -L -n --stats
    echo "\$ ipvsadm -L -n -c"
    ip netns exec "$id-dir" ipvsadm -L -n -c
  } > "$out/$name.txt"
  bash "$here/cluster.sh" "$id" down
  cat "$out/$name.txt"
}

record dr-rr dr 6 "-A -t $VIP:80 -s rr" "-a -t $VIP:80 -r 198.51.100.11 -g" "-a -t $VIP:80 -r 198.51.100.12 -g"
record nat-rr nat 6 "-A -t $VIP:80 -s rr" "-a -t $VIP:80 -r 198.51.100.11 -m" "-a -t $VIP:80 -r 198.51.100.12 -m"
record dr-wlc dr 6 "-A -t $VIP:80 -s wlc" "-a -t $VIP:80 -r 198.51.100.11 -g -w 1" "-a -t $VIP:80 -r 198.51.100.12 -g -w 2"

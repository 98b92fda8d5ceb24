#!/bin/sh
# Records the IPVS table the real keepalived 2.2.7 sets up at start, before any check has run,
# for every virtual-server file of test/fixtures/keepalived/ok: `ipvsadm -S -n` and
# `ipvsadm -L -n --thresholds`, captured right after keepalived logs "Activating BFD
# healthchecker" (init_services is done; the first checks would run 1 s later, but the checker
# process is frozen with SIGSTOP first, so a slow VM cannot let a check slip in). Output:
# startup-tables.txt beside this script. test/config/keepalived/startup-tables.test.ts compares
# tslvs's startup commands (health/runner.ts initialCommands) with it.
#
# Needs real IPVS, so it runs in the project's IPVS oracle VM (Debian 6.1 kernel):
#   echo "TSLVS_REPO=$PWD sh $PWD/test/golden/keepalived/record-startup-tables.sh" > /tmp/rec.sh
#   /path/to/ipvs-oracle run /tmp/rec.sh OUTDIR     # the oracle copies the script it runs
#   cp OUTDIR/out.txt test/golden/keepalived/startup-tables.txt
# (or directly as root on a Linux host with ip_vs, keepalived and ipvsadm installed; it flushes
# the IPVS table.)
set -eu
repo=${TSLVS_REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}
fixtures="$repo/test/fixtures/keepalived"
command -v keepalived >/dev/null || { echo "keepalived missing" >&2; exit 1; }
# Route everything somewhere so the kernel accepts DR/TUN destinations of any address.
ip link add tslvsdefault type dummy 2>/dev/null || true
ip link set tslvsdefault up
ip addr add 10.255.255.254/32 dev tslvsdefault 2>/dev/null || true
ip route add default dev tslvsdefault 2>/dev/null || true
ip -6 route add default dev tslvsdefault 2>/dev/null || true
log=$(mktemp)
echo "# $(keepalived -v 2>&1 | head -n 1); kernel $(uname -r); ipvsadm $(ipvsadm --version 2>&1 | head -n 1)"
cd "$fixtures"
for f in ok/*.conf; do
  grep -q '^[[:space:]]*virtual_server[[:space:]]' "$f" || continue
  ipvsadm -C
  : >"$log"
  rm -f /run/tslvs-kac.pid
  keepalived -n -l -D -R -C -i tslvs-test -f "$f" -p /run/tslvs-ka.pid -c /run/tslvs-kac.pid >"$log" 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 400 ] && ! grep -q 'Activating BFD healthchecker' "$log"; do sleep 0.05; i=$((i + 1)); done
  child=$(cat /run/tslvs-kac.pid 2>/dev/null || true)
  [ -n "$child" ] && kill -STOP "$child"
  echo "== $f"
  ipvsadm -S -n
  echo "-- thresholds"
  ipvsadm -L -n --thresholds | tail -n +4
  # keepalived's own IPVS errors, if any (a kernel without a scheduler, say)
  grep 'IPVS cmd' "$log" | sed 's/^.*: IPVS cmd/-- ipvs error: IPVS cmd/' || true
  [ -n "$child" ] && kill -KILL "$child"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
ipvsadm -C
rm -f "$log"

#!/bin/bash
# Runs bench/adm/restore-bench (compiled) inside the ipvs-oracle VM, where the real ipvsadm and
# the kernel's IPVS are available, so both are measured in the same run on the same (emulated)
# machine and the ratios printed are like for like. From the repository root, after `npx tsc -p .`:
#   mkdir -p /tmp/adm-bench && pwd > /tmp/adm-bench/repo   # optional: which checkout (default: found)
#   echo 10000 10 > /tmp/adm-bench/args                    # optional: services, real servers each
#   ORACLE_TIMEOUT=2400 ORACLE_MEM=4096 ipvs-oracle run bench/adm/kernel-restore-bench.sh /tmp/adm-bench
# What it printed, run by run, is kept in bench/adm/kernel-restore-bench.txt (the kernel figures
# docs/tslvsadm.md quotes); append a new run there, with the tree it measured, when re-recording.
set -e
# The checkout to use: the path written to $ORACLE_DIR/repo before the run, else the first
# bin/tslvsadm.js found on the (read-only, shared) host file system.
REPO=$(cat "${ORACLE_DIR:-/tmp/oracle}/repo" 2>/dev/null || true)
if [ ! -f "${REPO:-/nonexistent}/bin/tslvsadm.js" ]; then
  f=$(find / -maxdepth 4 \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \) -prune -o -path '*/bin/tslvsadm.js' -print 2>/dev/null | head -1)
  REPO=$(dirname "$(dirname "$f")")
fi
cd /tmp
modprobe ip_vs
# The kernel refuses real servers it has no unicast route to: give it one.
ip link set lo up
ip link add dummy0 type dummy && ip link set dummy0 up
ip addr add 198.18.0.1/15 dev dummy0 && ip route add default dev dummy0
ipvsadm -C
echo "kernel $(uname -r), $(ipvsadm -v), node $(node --version), $(nproc) cpu"
node "$REPO/dist/bench/adm/restore-bench.js" $(cat "${ORACLE_DIR:-/tmp/oracle}/args" 2>/dev/null || echo 10000 10) 2>&1 | grep -v '^tslvs: '

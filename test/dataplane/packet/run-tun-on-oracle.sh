#!/bin/sh
# Runs the TUN end-to-end tests inside the IPVS oracle VM (a Debian 6.1 kernel with the ipip
# and fou modules) and records what they printed in test/golden/packet/tun-oracle.txt.
# Usage: IPVS_ORACLE=/path/to/ipvs-oracle test/dataplane/packet/run-tun-on-oracle.sh
# (build first: npm run build && npm run build:native; the VM sees this checkout read-only).
set -eu
repo=$(cd "$(dirname "$0")/../../.." && pwd)
oracle=${IPVS_ORACLE:?set IPVS_ORACLE to the ipvs-oracle script}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/case.sh" <<CASE
set -u
cd "$repo"
echo "kernel: \$(uname -r)"
modprobe ipip; modprobe fou
# The VM emulates its CPU: everything takes about ten times longer.
export TSLVS_E2E_SLOW=10
node --test --test-reporter=spec dist/test/dataplane/packet/e2e-tun.test.js 2>&1 | sed -e 's/ ([0-9.]*ms)//' | grep -v 'duration_ms'
CASE
ORACLE_TIMEOUT=${ORACLE_TIMEOUT:-1500} ORACLE_CPUS=${ORACLE_CPUS:-2} "$oracle" run "$tmp/case.sh" "$tmp/out" >/dev/null || true
mkdir -p "$repo/test/golden/packet"
cp "$tmp/out/out.txt" "$repo/test/golden/packet/tun-oracle.txt"
cat "$repo/test/golden/packet/tun-oracle.txt"

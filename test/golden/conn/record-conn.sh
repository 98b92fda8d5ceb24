#!/usr/bin/env bash
# Re-records the connection-layer goldens (test/golden/conn/*.txt) on a real kernel.
#
#   IPVS_ORACLE=/path/to/ipvs-oracle test/golden/conn/record-conn.sh [CASE-SUBSTRING...]
#
# On the host: boots the oracle VM (the project's shared ipvs-oracle tool: Debian's 6.1 kernel
# with IPVS; give its path in IPVS_ORACLE or put it on PATH) with this same script, then copies
# the recorded goldens here. Inside the VM ($ORACLE_DIR is set): runs record-conn.py with the
# cases of conn-cases.py (python3 and ipvsadm come from the host's filesystem, read-only).
# With CASE-SUBSTRINGs only the matching cases are recorded; the others are left as they are.
set -euo pipefail

if [ -n "${ORACLE_DIR:-}" ]; then
  cd "$ORACLE_DIR"
  python3 ./record-conn.py ./out $(cat ./filters 2>/dev/null || true)
  exit $?
fi

here=$(cd "$(dirname "$0")" && pwd)
oracle=${IPVS_ORACLE:-ipvs-oracle}
command -v "$oracle" >/dev/null || { echo "record-conn.sh: ipvs-oracle not found: set IPVS_ORACLE to its path" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/record-conn.py" "$here/conn-cases.py" "$work/"
printf '%s\n' "$@" > "$work/filters"
rc=0
ORACLE_TIMEOUT=${ORACLE_TIMEOUT:-1200} "$oracle" run "$here/record-conn.sh" "$work" || rc=$?
n=$(ls "$work/out"/*.txt 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && cp "$work/out"/*.txt "$here/"
echo "record-conn.sh: $n goldens written to $here (exit $rc)"
exit $rc

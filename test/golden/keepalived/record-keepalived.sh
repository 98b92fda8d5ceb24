#!/bin/sh
# Records what the real `keepalived -t` (Debian bookworm's keepalived 2.2.7: apt-get install -y
# keepalived) says about every file of test/fixtures/keepalived/{ok,bad}/*.conf, one golden per
# file beside this script: ok-<name>.txt / bad-<name>.txt holding the exit status and stderr.
#
# Run as root from anywhere:  sh test/golden/keepalived/record-keepalived.sh
#
# What keepalived -t checks depends on the host, so the recording pins it down:
#  - it runs in a throw-away network namespace whose only interfaces are lo and a bridge named eth0
#    (test/config/keepalived/corpus.test.ts gives tslvs the same two interfaces);
#  - the config id is fixed with -i tslvs-test (for the @id lines of ok/27-conditional.conf);
#  - it runs from test/fixtures/keepalived with relative -f paths, so no absolute path of this
#    machine lands in a golden;
#  - scripts named in the corpus are /bin/true and /bin/echo, which every Debian system has, and
#    users root and nobody; the user keepalived_script must NOT exist.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$(cd "$here/../../fixtures/keepalived" && pwd)
command -v keepalived >/dev/null || { echo "keepalived is not installed: apt-get install -y keepalived" >&2; exit 1; }
if id keepalived_script >/dev/null 2>&1; then
  echo "the user keepalived_script exists here; the goldens assume it does not" >&2
  exit 1
fi
version=$(keepalived -v 2>&1 | head -n 1)
ns="tslvs-ka-record-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true; rm -f "$tmp"' EXIT INT TERM
tmp=$(mktemp)
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type bridge
ip -n "$ns" link set eth0 up
cd "$fixtures"
for f in ok/*.conf bad/*.conf; do
  name=$(echo "$f" | sed 's,/,-,; s,\.conf$,,')
  set +e
  ip netns exec "$ns" keepalived -t -i tslvs-test -f "$f" >/dev/null 2>"$tmp"
  rc=$?
  set -e
  {
    echo "# keepalived -t -i tslvs-test -f $f"
    echo "# $version, network namespace with lo and eth0 (a bridge)"
    echo "exit $rc"
    cat "$tmp"
  } >"$here/$name.txt"
  echo "$name: exit $rc"
done

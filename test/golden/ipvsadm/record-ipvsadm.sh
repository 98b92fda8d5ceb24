#!/bin/bash
# Records what the real ipvsadm 1.31 prints, for test/cli/tslvsadm: every command line of the
# cases below with its stdin, stdout, stderr and exit status, one file per group (*.txt here).
# Run it in the IPVS oracle VM as root, from the repository root:
#   ipvs-oracle run test/golden/ipvsadm/record-ipvsadm.sh /tmp/rec && cp /tmp/rec/*.txt /tmp/rec/etc-* test/golden/ipvsadm/
# ipvsadm is called through a symlink named tslvsadm, so that the program name it prints in
# "Try `tslvsadm -h' ..." and in the usage text is the one tslvsadm prints. /etc/hosts is
# replaced by the fixed file written below and DNS is switched off, so that names are the same
# wherever the goldens are replayed; the services file used is saved beside the goldens.
#
# Golden format, per command:  $ <argv as JSON>  [% <env as JSON>]  [< <stdin as JSON string>]
# then "1|" stdout lines, "2|" stderr lines, "= <exit status>". "## <name>" starts a case: the
# table is flushed and timeouts reset (ipvsadm -C; ipvsadm --set 900 120 300) before it.
set -e
OUT=${ORACLE_DIR:-/tmp/oracle}
mkdir -p /tmp/bin
ln -sf "$(command -v ipvsadm)" /tmp/bin/tslvsadm
export PATH=/tmp/bin:$PATH
cat > /tmp/hosts <<'HOSTS'
127.0.0.1	localhost
192.0.2.10	rs1.example.org rs1
192.0.2.5	vip.example.org vip
198.51.100.20	a-very-long-real-server-hostname.example.org
203.0.113.7	another-rather-long-virtual-service-name.example.org
2001:db8::10	v6svc.example.org
2001:db8:1::7	v6rs.example.org
2001:db8::99	v6only.example.org
HOSTS
mount --bind /tmp/hosts /etc/hosts
: > /tmp/resolv.conf
mount --bind /tmp/resolv.conf /etc/resolv.conf
cp /etc/hosts "$OUT/etc-hosts"
cp /etc/services "$OUT/etc-services"
ip link set lo up
ip link add dummy0 type dummy
ip link set dummy0 up
ip addr add 192.168.1.1/24 dev dummy0
ip -6 addr add 2001:db8:1::1/64 dev dummy0
ip route add default dev dummy0
ip -6 route add default dev dummy0
exec python3 - "$OUT" <<'PY'
import json, os, subprocess, sys
OUT = sys.argv[1]
files = {}
cur = None

def group(name):
    global cur
    cur = open(os.path.join(OUT, name + '.txt'), 'w')
    cur.write('# ipvsadm goldens recorded by record-ipvsadm.sh (%s, %s)\n' % (
        os.uname().release, subprocess.run(['ipvsadm', '-v'], capture_output=True, text=True).stdout.strip()))

def quiet(*args):
    subprocess.run(['tslvsadm', *args], stdin=subprocess.DEVNULL, capture_output=True)

def case(name):
    quiet('-C')
    quiet('--set', '900', '120', '300')
    cur.write('## %s\n' % name)

def emit(prefix, data):
    if not data:
        return
    text = data.decode('utf-8', 'surrogateescape')
    lines = text.split('\n')
    if lines[-1] == '':
        lines.pop()
    else:
        cur.write('%s\\ no newline at end\n' % prefix[0])
    for l in lines:
        cur.write('%s%s\n' % (prefix, l))

def r(*args, stdin=None, env=None):
    cur.write('$ %s\n' % json.dumps(list(args)))
    e = dict(os.environ)
    if env:
        cur.write('%% %s\n' % json.dumps(env))
        e.update(env)
    if stdin is not None:
        cur.write('< %s\n' % json.dumps(stdin))
    p = subprocess.run(['tslvsadm', *args], input=(stdin.encode() if stdin is not None else None),
                       stdin=(None if stdin is not None else subprocess.DEVNULL), capture_output=True, env=e)
    emit('1|', p.stdout)
    emit('2|', p.stderr)
    cur.write('= %d\n' % p.returncode)

def R(text, *args):
    r('-R', *args, stdin=text)

# ------------------------------------------------------------------------------------------
group('help')
case('no arguments on an empty table')
r()
case('help and version')
r('-h'); r('--help'); r('-v'); r('--version'); r('-h', '-L', '--bogus'); r('-v', 'junk')
r('-L', '-h'); r('-L', '-v'); r('-V')

group('popt')
case('first option must be a command')
r('--foo'); r('-n'); r('-t', '192.0.2.1:80', '-A'); r('1.2.3.4'); r('-'); r('--'); r('--list=x'); r('-L=n')
r('-6', '-f', '5')
case('popt errors after the command')
r('-Aq'); r('-At'); r('-Lnq'); r('-L', '--tcp-service'); r('-L', '--numeric=5'); r('-L', '--sched', 'rr')
r('-A', '-t', '192.0.2.1:80', '--sched', 'rr'); r('-L', '-p'); r('--set', '-1', '0', '0'); r('-A', '-t', '192.0.2.93:80', '-p', '-1')
r('-L', '-n', '--nosort=1'); r('-L', '-n', '-c', '--bogus=1'); r('-L', '-n', '--exac')
case('leftover words')
r('-L', '--', '-n'); r('foo', '-L'); r('-L', 'foo', 'bar'); r('-L', '-'); r('-S', '-n', 'x')
case('a second command is an invalid option')
r('-A', '-E', '-t', '192.0.2.1:80'); r('-A', '-t', '192.0.2.1:80', '--stop-daemon', 'master'); r('-AE')
r('-A', '-t', '192.0.2.1:80', '-L'); r('-A', '-t', '192.0.2.1:80', '-h'); r('-A', '-t', '192.0.2.1:80', '--set')
r('-L', '-n', '-l'); r('-Ll')
case('option values in every popt form')
r('-A', '-p=60', '-t', '192.0.2.89:80'); r('-A', '-p60', '-t', '192.0.2.90:80'); r('-A', '-t', '192.0.2.91:80', '-p', '-s', 'rr')
r('-A', '-t192.0.2.92:80', '-srr'); r('--add-service', '--tcp-service=192.0.2.94:80', '--scheduler=rr', '--persistent=30')
r('-A', '-t', '192.0.2.95:80', '-s', '-n'); r('-At', '192.0.2.96:80', '-s=rr'); r('-A', '-t', '192.0.2.97:80', '-pb', 'flag-1')
r('-Ln'); r('-ln'); r('--list', '--numeric'); r('-L', '-n', '-X', '--exact'); r('-S', '-n')
case('POSIXLY_CORRECT stops at the first word')
r('--set', '1', '2', '3', '-x', env={'POSIXLY_CORRECT': '1'}); r('--set', '1', '2', '3', '-x')
r('-L', 'x', '-n', env={'POSIXLY_CORRECT': '1'})

group('service-errors')
case('service address')
r('-A'); r('-A', '-t'); r('-A', '-t', '192.0.2.4'); r('-A', '-t', '192.0.2.4:0', '-s', 'rr'); r('-A', '-t', '192.0.2.4:80', '-o')
r('-A', '-t', 'nosuchhost.invalid:80'); r('-A', '-t', '192.0.2.4:99999'); r('-A', '-t', '192.0.2.4:-1'); r('-A', '-t', '192.0.2.4:0x50')
r('-A', '-t', ''); r('-A', '-t', ':80'); r('-A', '-t', '12345'); r('-A', '-t', '192.0.2.4:'); r('-A', '-t', '[192.0.2.4]:80')
r('-A', '-t', '[2001:db8::12]'); r('-A', '-t', '[2001:db8::12'); r('-A', '-t', '[2001:db8::12]x80'); r('-A', '-u', '192.0.2.4:http')
r('-A', '-t', '192.0.2.4:nosuchport'); r('-A', '--sctp-service', '192.0.2.4:http'); r('-A', '-t', '1.2.3.4.5:80')
r('-A', '-t', '256.1.1.1:80'); r('-A', '-t', '0300.0.02.0144:80', '-s', 'rr'); r('-A', '-t', '0xc0.0.2.0x65:80', '-s', 'rr'); r('-A', '-t', '0xc0.0.2.0x:80')
r('-A', '-t', '192.0.2.4 junk:81', '-s', 'rr'); r('-A', '-t', '3221225988:82', '-s', 'rr'); r('-A', '-t', '192.0.2.4:+83', '-s', 'rr')
r('-A', '-t', '192.0.2.4: 84', '-s', 'rr'); r('-A', '-t', '2001:db8::12', '-s', 'rr'); r('-A', '-t', '[::ffff:192.0.2.4]:85', '-s', 'rr')
r('-A', '-t', '[2001:db8:0:0:0:0:0:13]:86', '-s', 'rr'); r('-A', '-t', '[2001:db8::1::2]:86'); r('-A', '-t', '[2001:db8:00012::1]:86')
r('-L', '-n'); r('-S', '-n')
case('duplicate and conflicting options')
r('-A', '-t', '192.0.2.4:80', '-s', 'rr', '-s', 'wrr'); r('-A', '-t', '192.0.2.4:80', '-u', '192.0.2.4:80')
r('-A', '-t', '192.0.2.5:80', '-r', '198.51.100.1'); r('-A', '-t', '192.0.2.5:80', '-s', 'rr', '--foo')
r('-A', '-t', '192.0.2.5:80', '-s', 'rr', 'extra'); r('-A', '-t', '192.0.2.5:80', '-m'); r('-A', '-t', '192.0.2.5:80', '-n')
r('-A', '-t', '192.0.2.5:80', '-w', '3'); r('-A', '-t', '192.0.2.5:80', '--stats'); r('-A', '-t', '192.0.2.5:80', '--tun-type', 'gre')
r('-A', '-t', '192.0.2.5:80', '--mcast-interface', 'dummy0'); r('-A', '-t', '192.0.2.5:80', '-c')
case('schedulers and kernel refusals')
r('-A', '-t', '192.0.2.5:80', '-s', 'foo'); r('-A', '-t', '192.0.2.5:80', '-s', 'averyveryverylongschedulername')
r('-A', '-t', '192.0.2.6:80', '-s', 'rr'); r('-A', '-t', '192.0.2.6:80', '-s', 'rr')
r('-A', '-t', '192.0.2.6:80', '-s', 'wrr'); r('-A', '-t', '192.0.2.7:80', '-s', 'none')
for s in ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh']:
    r('-A', '-u', '192.0.2.8:%d' % (1000 + len(s) * 10 + ord(s[0]) % 10), '-s', s)
r('-L', '-n')
case('fwmark')
r('-A', '-f', '0'); r('-A', '-f', 'abc'); r('-A', '-f', '4294967296'); r('-A', '-f', '-1'); r('-A', '-f', ' 5', '-s', 'rr')
r('-A', '-6', '-f', '5'); r('-A', '-t', '192.0.2.6:81', '-6'); r('-A', '-f', '6', '-6', '-6', '-s', 'rr'); r('-A', '-f', '4294967295', '-s', 'rr')
r('-A', '-f', '7', '-o', '-s', 'rr'); r('-A', '-f', '8', '-6', '-o', '-s', 'rr', '-p', '20', '-M', '48'); r('-A', '-f', '+9', '-s', 'rr')
r('-L', '-n'); r('-S', '-n')
case('persistence, netmask and timeouts')
r('-A', '-t', '192.0.2.8:80', '-M', 'bogus', '-p'); r('-A', '-t', '192.0.2.8:80', '-M', '255.255.255.0'); r('-A', '-t', '192.0.2.9:80', '-M', '255.255.0.0', '-p')
r('-A', '-t', '[2001:db8::11]:80', '-s', 'rr', '-p', '10', '-M', '129'); r('-A', '-t', '[2001:db8::11]:80', '-p', '-M', '0')
r('-A', '-M', '64', '-t', '[2001:db8::14]:80', '-p'); r('-A', '-t', '[2001:db8::15]:80', '-p', '-M', '4294967297'); r('-A', '-t', '[2001:db8::16]:80', '-p', '-M', '64abc')
r('-A', '-t', '192.0.2.10:80', '-p', '0'); r('-A', '-t', '192.0.2.10:80', '-p', '2678401'); r('-A', '-t', '192.0.2.10:80', '-p', '2678400')
r('-A', '-t', '192.0.2.11:80', '-p', 'abc'); r('-A', '-t', '192.0.2.11:80', '-p', '1e3'); r('-A', '-t', '192.0.2.12:0', '-p', '30', '-M', '255.255.255.128')
r('-A', '-t', '192.0.2.13:80', '-M', '0xffffff00', '-p', '5'); r('-A', '-t', '192.0.2.14:80', '-M', 'rs1', '-p', '5')
r('-L', '-n'); r('-S', '-n')
case('scheduler flags, pe, ops')
r('-A', '-t', '192.0.2.9:80', '-s', 'rr', '-b', 'sh-port'); r('-A', '-t', '192.0.2.9:80', '-b', 'sh-port'); r('-A', '-t', '192.0.2.9:80', '-s', 'sh', '-b', 'foo')
r('-A', '-t', '192.0.2.9:80', '-s', 'rr', '-b', 'flag-1,flag-3'); r('-A', '-t', '192.0.2.10:80', '-s', 'sh', '-b', 'sh-port', '-b', 'sh-fallback')
r('-A', '-t', '192.0.2.10:80', '-s', 'sh', '-b', ''); r('-A', '-t', '192.0.2.11:80', '-s', 'mh', '-b', 'mh-port,,mh-fallback')
r('-A', '-t', '192.0.2.12:80', '-s', 'sh', '-b', 'flag-3'); r('-A', '-t', '192.0.2.13:80', '-s', 'sh', '-b', 'mh-port'); r('-A', '-t', '192.0.2.14:80', '-b', 'flag-2', '-s', 'wrr')
r('-D', '-t', '192.0.2.9:80', '-b', 'foo'); r('-A', '-t', '192.0.2.15:80', '-s', 'sh', '-b', 'sh-fallback,sh-port,flag-3')
r('-A', '-u', '192.0.2.10:5060', '-s', 'rr', '--pe', 'sip', '-p', '30'); r('-A', '-u', '192.0.2.11:5060', '-s', 'rr', '--pe', 'foo', '-p', '30')
r('-A', '-t', '192.0.2.16:80', '--pe', 'sip'); r('-A', '-u', '192.0.2.2:53', '-s', 'rr', '-o'); r('-A', '--sctp-service', '192.0.2.3:3868', '-o')
r('-A', '-u', '192.0.2.9:53', '-s', 'rr', '-p', '30', '-o')
r('-L', '-n'); r('-S', '-n')
case('edit, delete, zero, flush on missing services')
r('-E', '-t', '192.0.2.99:80'); r('-D', '-t', '192.0.2.99:80'); r('-Z', '-t', '192.0.2.99:80'); r('-Z', '-f', '4'); r('-D', '-f', '4')
r('-A', '-t', '192.0.2.6:80', '-s', 'rr'); r('-E', '-t', '192.0.2.6:80', '-s', 'nosuch'); r('-D', '-t', '192.0.2.6:80', '-s', 'rr')
r('-C', '-t', '192.0.2.6:80'); r('-Z'); r('-Z', '-t', '192.0.2.6:80'); r('-Z', '-n'); r('-D', '-t', '192.0.2.6:80'); r('-D', '-t', '192.0.2.6:80')
r('-E'); r('-D'); r('-C'); r('-C', '-n')
case('set timeouts')
r('--set', '1', '2'); r('--set', '1', '2', '3', '4'); r('--set', '2678401', '0', '0'); r('--set', 'abc', '0', '0'); r('--set', '1', '2', '3', '-n')
r('--set', '0', '0', '0'); r('-L', '--timeout'); r('--set', '100', '20', '30'); r('-L', '--timeout'); r('--set', '0', '7', '0'); r('-L', '--timeout')
r('--set', '2678400', '2678400', '2678400'); r('-L', '--timeout'); r('--set'); r('--set', ' 5', '+6', '7')

group('dest-errors')
case('real servers')
r('-A', '-t', '192.0.2.1:80', '-s', 'rr')
r('-a', '-t', '192.0.2.1:80'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.5', '-w', '70000'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.6', '-w', '-1')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.6', '-w', 'abc'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.6', '-w', '2147483648')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.6', '-w', '2147483647'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.7', '-x', '10', '-y', '20')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.7', '-x', '10'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.8', '-y', '10')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.8', '-x', '-1'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.8', '-y', 'x')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.8', '-x', '2147483648'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.8', '-x', '20', '-y', '20')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.9', '-g', '-m'); r('-a', '-t', '192.0.2.1:80', '-r', '224.0.0.1', '-g')
r('-a', '-t', '192.0.2.1:80', '-r', '255.255.255.255', '-m'); r('-a', '-t', '192.0.2.1:80', '-r', '0.0.0.0', '-m')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.10:8080', '-g'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.11:8080', '-m', '-w', '0')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.11:8080', '-m'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.5:http', '-m')
r('-a', '-t', '192.0.2.39:80', '-r', '198.51.100.5'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.12', '-r', '198.51.100.13')
r('-a', '-t', '192.0.2.1:80', '-r', '[2001:db8::5]:80', '-m'); r('-a', '-t', '192.0.2.1:80', '-r', '2001:db8::6', '-i')
r('-a', '-t', '192.0.2.1:80', '-r'); r('-a', '-t', '192.0.2.1:80', '-r', 'nosuchhost.invalid'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.14:99999')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.14', '-s', 'rr'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.14', '-p')
r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.14', '-o'); r('-a', '-t', '192.0.2.1:80', '-r', '198.51.100.15', '-m', '-w', ' 4')
r('-a', '-r', '198.51.100.16', '-t', '192.0.2.1:80', '-m'); r('-a', '-r', '198.51.100.17:8081', '-t', '192.0.2.1:80', '-m')
r('-L', '-n'); r('-L', '-n', '--thresholds')
r('-e', '-t', '192.0.2.1:80', '-r', '198.51.100.99', '-w', '5'); r('-e', '-t', '192.0.2.1:80', '-r', '198.51.100.5', '-w', '5')
r('-e', '-t', '192.0.2.1:80', '-r', '198.51.100.7', '-y', '3'); r('-e', '-t', '192.0.2.1:80', '-r', '198.51.100.10:8080', '-m')
r('-e', '-t', '192.0.2.99:80', '-r', '198.51.100.5'); r('-e', '-t', '192.0.2.1:80', '-r', '198.51.100.11:8080', '-x', '7', '-y', '5', '-m')
r('-L', '-n', '--thresholds')
r('-d', '-t', '192.0.2.1:80', '-r', '198.51.100.150'); r('-d', '-t', '192.0.2.99:80', '-r', '198.51.100.5')
r('-d', '-t', '192.0.2.1:80', '-r', '198.51.100.5', '-w', '3'); r('-d', '-t', '192.0.2.1:80', '-r', '198.51.100.11:8080')
r('-d', '-t', '192.0.2.1:80', '-r', '198.51.100.11:8080'); r('-d', '-t', '192.0.2.1:80', '-r', '198.51.100.6', '-m')
r('-d', '-t', '192.0.2.1:80'); r('-L', '-n'); r('-S', '-n')
case('IPv6 and fwmark real servers')
r('-A', '-t', '[2001:db8::13]:443', '-s', 'rr'); r('-a', '-t', '[2001:db8::13]:443', '-r', '198.51.100.5', '-g')
r('-a', '-t', '[2001:db8::13]:443', '-r', '198.51.100.5', '-i'); r('-a', '-t', '[2001:db8::13]:443', '-r', '[2001:db8:1::5]:8443', '-m', '-w', '3')
r('-a', '-t', '[2001:db8::13]:443', '-r', '[2001:db8:1::6]', '-g'); r('-a', '-t', '[2001:db8::13]:443', '-r', '2001:db8:1::7', '-m')
r('-a', '-t', '[2001:db8::13]:443', '-r', 'ff02::1', '-m'); r('-a', '-t', '[2001:db8::13]:443', '-r', '[fe80::1]:443', '-m')
r('-A', '-f', '77', '-6', '-s', 'rr', '-p'); r('-a', '-f', '77', '-r', '[2001:db8:1::7]:8080', '-m'); r('-a', '-f', '77', '-6', '-r', '[2001:db8:1::7]:8080', '-m')
r('-a', '-f', '77', '-6', '-r', '2001:db8:1::8', '-g'); r('-a', '-f', '77', '-6', '-r', '[2001:db8:1::9]:0', '-i')
r('-A', '-f', '78', '-s', 'wlc'); r('-a', '-f', '78', '-r', '198.51.100.30:8080', '-m'); r('-a', '-f', '78', '-r', '198.51.100.31', '-g')
r('-L', '-n'); r('-S', '-n'); r('-L', '-n', '-f', '77'); r('-L', '-n', '-f', '77', '-6'); r('-L', '-n', '-6', '-f', '77')
case('tunnels')
r('-A', '-t', '192.0.2.12:80', '-s', 'rr')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-g', '--tun-type', 'gue'); r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-i', '--tun-type', 'gue')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-i', '--tun-type', 'foo'); r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-i', '--tun-type', 'ipip', '--tun-port', '5')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-i', '--tun-type', 'gue', '--tun-port', '5', '--tun-csum', '--tun-remcsum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-i', '--tun-type', 'gue', '--tun-port', '0')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-i', '--tun-port', '5'); r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.20', '-m', '--tun-csum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.21', '-i', '--tun-type', 'gue', '--tun-port', '5', '--tun-remcsum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.22', '-i', '--tun-type', 'gre', '--tun-nocsum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.23', '-i', '--tun-type', 'gre', '--tun-remcsum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.24', '-i', '--tun-type', 'gre', '--tun-csum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.25', '-i'); r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.26', '-i', '--tun-nocsum')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.27', '-i', '--tun-type', 'gue', '--tun-port', '6080')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.28', '-i', '--tun-type', 'gue', '--tun-port', '65535', '--tun-csum', '-w', '9')
r('-a', '-t', '192.0.2.12:80', '-r', '198.51.100.29', '-i', '--tun-type', 'gue', '--tun-port', '6080', '--tun-type', 'gre')
r('-L', '-n', '--tun-info'); r('-S', '-n'); r('-L', '-n')
r('-e', '-t', '192.0.2.12:80', '-r', '198.51.100.28', '-i'); r('-e', '-t', '192.0.2.12:80', '-r', '198.51.100.25', '-i', '--tun-type', 'gre', '--tun-csum')
r('-L', '-n', '--tun-info')

group('listings')
def rich():
    r('-A', '-t', '192.168.1.230:80', '-s', 'rr')
    r('-a', '-t', '192.168.1.230:80', '-r', '192.168.1.100', '-g')
    r('-a', '-t', '192.168.1.230:80', '-r', '192.168.1.201', '-g', '-w', '1')
    r('-A', '-t', '10.0.0.1:80', '-s', 'wlc', '-p', '300', '-M', '255.255.255.0')
    r('-A', '-t', '[2001:db8::1]:443', '-s', 'sh', '-b', 'sh-port,sh-fallback')
    r('-A', '-f', '100', '-s', 'lblcr', '-p')
    r('-A', '-f', '101', '-6', '-s', 'mh', '-b', 'mh-port')
    r('-A', '-u', '10.0.0.2:53', '-s', 'rr', '-o')
    r('-a', '-t', '10.0.0.1:80', '-r', '192.168.1.50:8080', '-m', '-w', '5', '-x', '100', '-y', '50')
    r('-a', '-t', '10.0.0.1:80', '-r', '192.168.1.51', '-i', '-w', '0')
    r('-a', '-t', '10.0.0.1:80', '-r', '192.168.1.52', '-i', '--tun-type', 'gue', '--tun-port', '6080', '--tun-csum')
    r('-a', '-t', '10.0.0.1:80', '-r', '192.168.1.54', '-i', '--tun-type', 'gre', '--tun-csum')
    r('-A', '--sctp-service', '192.168.1.64:3868', '-s', 'rr')
    r('-a', '--sctp-service', '192.168.1.64:3868', '-r', '192.168.1.65', '-m', '-w', '2')
    r('-A', '-u', '10.0.0.9:5060', '-s', 'rr', '-p', '30', '--pe', 'sip')
    r('-a', '-u', '10.0.0.9:5060', '-r', '192.168.1.66', '-m', '-x', '3')
    r('-a', '-t', '[2001:db8::1]:443', '-r', '[2001:db8:1::10]:8443', '-m', '-w', '4')
    r('-a', '-t', '[2001:db8::1]:443', '-r', '[2001:db8:1::11]', '-g', '-x', '9', '-y', '4')
    r('-a', '-f', '100', '-r', '192.168.1.70', '-g'); r('-a', '-f', '100', '-r', '192.168.1.71:8080', '-m')
    r('-a', '-f', '101', '-6', '-r', '[2001:db8:1::12]:80', '-m')
    r('-A', '-t', '10.0.0.3:8080', '-s', 'none')
case('every list view of one table')
rich()
for v in [(), ('-n',), ('--stats',), ('-n', '--stats'), ('-n', '--rate'), ('-n', '--stats', '--exact'), ('-n', '--rate', '-X'),
          ('-n', '--thresholds'), ('-n', '--persistent-conn'), ('-n', '--tun-info'), ('--timeout',), ('--daemon',), ('-c',), ('-n', '-c'),
          ('-n', '-c', '--persistent-conn'), ('-n', '--sort'), ('-n', '--stats', '--rate'), ('-n', '--thresholds', '--persistent-conn'),
          ('-n', '--tun-info', '--stats'), ('-n', '--tun-info', '--thresholds'), ('-n', '--exact'), ('--syncid', '5', '-n'),
          ('-n', '--timeout'), ('-n', '--daemon'), ('--tun-info',), ('--thresholds',), ('-n', '--nosort'), ('-n', '--nosort', '--stats')]:
    r('-L', *v)
r('-l', '-n'); r('--list', '-n', '--nosort', '-t', '10.0.0.1:80')
case('one service')
rich()
for v in [('-t', '10.0.0.1:80'), ('-t', '10.0.0.1:http'), ('-u', '10.0.0.2:53'), ('-u', '10.0.0.2:domain'), ('--sctp-service', '192.168.1.64:3868'),
          ('-f', '100'), ('-f', '101', '-6'), ('-t', '[2001:db8::1]:443'), ('-t', '[2001:db8::1]:https')]:
    r('-L', '-n', *v); r('-L', *v)
r('-L', '-n', '-t', '10.0.0.1:80', '--stats', '--exact'); r('-L', '-n', '-t', '10.0.0.1:80', '--rate'); r('-L', '-n', '-t', '10.0.0.1:80', '--thresholds')
r('-L', '-n', '-t', '10.0.0.1:80', '--persistent-conn'); r('-L', '-n', '-t', '10.0.0.1:80', '--tun-info'); r('-L', '-n', '-t', '10.0.0.1:80', '--nosort')
r('-L', '-n', '-f', '101'); r('-L', '-n', '-t', '192.0.2.239:80'); r('-L', '-n', '-u', '10.0.0.1:80'); r('-L', '-t', '192.0.2.239:80')
r('-L', '-n', '-t', '10.0.0.1'); r('-L', '-n', '-t', '10.0.0.1:0'); r('-L', '-n', '-t', '10.0.0.3:8080')
case('list option conflicts')
r('-L', '-n', '-c', '--stats'); r('-L', '--timeout', '--stats'); r('-L', '--timeout', '--persistent-conn'); r('-L', '-n', '-t', '192.0.2.4:80', '-c')
r('-L', '--timeout', '--daemon'); r('-L', '-n', '--tun-type', 'gue'); r('-L', '-n', '-s', 'rr'); r('-L', '-n', '-6'); r('-L', '-n', '-f', '5', '-6')
r('-L', '-c', '--rate'); r('-L', '-c', '--thresholds'); r('-L', '--daemon', '--persistent-conn'); r('-L', '-c', '--timeout'); r('-L', '-c', '--daemon')
r('-L', '--daemon', '-t', '192.0.2.4:80'); r('-L', '-n', '-o'); r('-L', '-n', '--pe', 'sip'); r('-L', '-n', '-b', 'flag-1'); r('-L', '-n', '--mcast-port', '5')
r('-L', '-n', '-r', '192.0.2.4'); r('-L', '-n', '-w', '1'); r('-L', '-n', '-p'); r('-L', '-n', '-M', '255.0.0.0'); r('-L', '-n', '-m')
r('-L', '-n', '--mcast-interface', 'eth0'); r('-L', '-c', '--persistent-conn', '--timeout')
case('empty table views')
for v in [(), ('-n',), ('-n', '--stats'), ('-n', '--rate'), ('-n', '--thresholds'), ('-n', '--persistent-conn'), ('-n', '--tun-info'),
          ('-n', '-c'), ('-c', '--persistent-conn'), ('--timeout',), ('--daemon',), ('-n', '--nosort')]:
    r('-L', *v)
r('-S'); r('-S', '-n')

group('save')
case('save with and without names')
rich()
r('-S'); r('-S', '-n'); r('--save', '--numeric'); r('-S', '-n', '-n'); r('-S', '-n', '-t', '10.0.0.1:80'); r('-S', '-c'); r('-S', '--nosort')
r('-S', '--stats'); r('-Sn')
case('save edge cases')
r('-A', '-t', '192.0.2.50:80', '-s', 'sh', '-b', 'flag-3')
r('-A', '-t', '192.0.2.51:80', '--pe', 'sip'); r('-A', '-t', '192.0.2.52:0', '-p', '5', '-M', '255.255.0.0'); r('-A', '-t', '192.0.2.53:80', '-M', '255.255.0.0')
r('-a', '-t', '192.0.2.52:0', '-r', '198.51.100.1', '-m'); r('-a', '-t', '192.0.2.52:0', '-r', '198.51.100.2:0', '-m'); r('-a', '-t', '192.0.2.52:0', '-r', '198.51.100.3:443', '-m')
r('-a', '-t', '192.0.2.52:0', '-r', '198.51.100.4:443', '-g'); r('-A', '-t', '[2001:db8::52]:0', '-p', '5', '-M', '64')
r('-S', '-n'); r('-S'); r('-L', '-n')
case('save: fwmarks at and above 2^31 print negative')
r('-A', '-f', '4294967295', '-s', 'rr'); r('-A', '-f', '2147483648', '-s', 'rr', '-p'); r('-a', '-f', '2147483648', '-r', '198.51.100.1:80', '-m')
r('-S', '-n'); r('-L', '-n'); r('-L', '-n', '-f', '4294967295'); r('-L', '-n', '-f', '-1')

group('restore')
case('restore: comments are not supported')
R('-A -t 10.0.0.1:80 -s wrr\n\nipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 2\n-a -t 10.0.0.1:80 -r 10.0.0.3 -m -w 3 # comment\n-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.4 -m\n')
r('-S', '-n'); r('-C')
R('-A -t 10.0.0.1:80 -s wrr\n# a comment\n-a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 2\n'); r('-S', '-n')
case('restore: kernel errors go on, the last line decides the status')
R('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 99999\n-a -t 10.0.0.1:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.9:80 -r 10.0.0.2 -m\n-a -t 10.0.0.1:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.3 -m\n-a -t 10.0.0.9:80 -r 10.0.0.2 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.1:80 -s wrr\n-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s rr\n-D -t 10.0.0.1:80\n'); r('-S', '-n')
case('restore: popt errors go on, usage errors stop')
R('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -m --foo\n-a -t 10.0.0.1:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.3:80 -s wrr\n-a -t 10.0.0.3:80 -r 10.0.0.3 -m --foo\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.4:80 -s wrr\n-R\n-a -t 10.0.0.4:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.5:80 -s wrr\n-n\n-a -t 10.0.0.5:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.12:80 -s rr\n-a -t 10.0.0.12:80 -r 10.0.0.13 -m -w\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.13:80 -s rr\n-a -t 10.0.0.13:80 -r 10.0.0.14 -m -w abc\n-a -t 10.0.0.13:80 -r 10.0.0.15 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.14:80 -s rr\n-R -n\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.15:80 -s rr\n-A -t 10.0.0.16:80 -s rr extra\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.17:80 -s rr\n-Lq\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.18:80 -s rr\n-A -E -t 10.0.0.18:80\n-A -t 10.0.0.19:80\n'); r('-S', '-n')
case('restore: help, version, listings inside')
R('-A -t 10.0.0.2:80 -s wrr\n-L -n\n-h\n-a -t 10.0.0.2:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.2:80 -s wrr\n-v\n-a -t 10.0.0.2:80 -r 10.0.0.3 -m\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.10:80 -s wrr\n-S -n\n-A -t 10.0.0.10:80\n'); r('-C')
R('-A -t 10.0.0.10:80 -s wrr\n-L -n -t 10.0.0.10:80\n-L -n -t 10.0.0.11:80\n-A -t 10.0.0.12:80\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.10:80 -s wrr\n--set 10 20 30\n-L --timeout\n-Z\n-Z -t 10.0.0.10:80\n-C\n-L -n\n'); r('-S', '-n')
case('restore: line splitting')
R('-A -t 10.0.0.6:80 -s wrr'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.7:80 -s wrr  '); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.7:80 -s wrr\n-A -t 10.0.0.8:80 -s wrr\t'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.6:80 -s wrr\n   \n\t\n-A -t 10.0.0.8:80 -s rr\n  '); r('-S', '-n'); r('-C')
R('ipvsadm\n  \n-A ipvsadm -t 10.0.0.11:80 -s wrr\n-A -t 10.0.0.11:80\n-Z\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.20:80 -s wrr\r\n-a -t 10.0.0.20:80 -r 10.0.0.21 -m\r\n'); r('-S', '-n'); r('-C')
R('\t-A\t-t\t10.0.0.22:80  -s   rr \n'); r('-S', '-n'); r('-C')
R(''); R('\n\n\n'); R('   '); R('ipvsadm -A -t 10.0.0.23:80 -s rr\nipvsadm\n'); r('-S', '-n'); r('-C')
R('-A -t 10.0.0.24:80 -s rr\n', '-n'); R('-A -t 10.0.0.24:80 -s rr\n', 'x'); R('-A -t 10.0.0.24:80 -s rr\n', '-R'); r('-S', '-n')
case('restore: a saved table restores unchanged')
rich()
p = subprocess.run(['tslvsadm', '-S', '-n'], capture_output=True, text=True)
r('-S', '-n'); r('-L', '-n'); r('-C'); R(p.stdout); r('-S', '-n'); r('-L', '-n')
p2 = subprocess.run(['tslvsadm', '-S'], capture_output=True, text=True)
r('-C'); R(p2.stdout); r('-S', '-n')

group('names')
case('host and port names')
r('-A', '-t', 'vip.example.org:http', '-s', 'rr'); r('-a', '-t', 'vip.example.org:http', '-r', 'rs1:http', '-m')
r('-a', '-t', 'vip:www', '-r', 'a-very-long-real-server-hostname.example.org:8080', '-m'); r('-a', '-t', '192.0.2.5:80', '-r', '198.51.100.21:https', '-m')
r('-A', '-t', 'another-rather-long-virtual-service-name.example.org:https', '-s', 'wrr'); r('-a', '-t', '203.0.113.7:443', '-r', 'localhost:443', '-m')
r('-A', '-u', '192.0.2.53:domain', '-s', 'rr'); r('-a', '-u', '192.0.2.53:53', '-r', '198.51.100.53:5353', '-m'); r('-a', '-u', '192.0.2.53:53', '-r', '198.51.100.54:mdns', '-m')
r('-A', '-t', '[v6svc.example.org]:80'); r('-A', '-t', 'v6svc.example.org:80'); r('-A', '-t', '[2001:db8::10]:http', '-s', 'rr')
r('-a', '-t', '[2001:db8::10]:80', '-r', '[v6rs.example.org]:8080', '-m'); r('-a', '-t', '[2001:db8::10]:80', '-r', '[2001:db8:1::7]:http-alt', '-m')
r('-A', '-t', 'v6only.example.org:80'); r('-A', '--sctp-service', '192.0.2.54:3868', '-s', 'rr'); r('-A', '-t', 'localhost:ftp', '-s', 'rr')
r('-A', '-u', '192.0.2.55:sip', '-s', 'rr'); r('-A', '-t', '192.0.2.56:kerberos5', '-s', 'rr'); r('-A', '-t', 'LOCALHOST:22', '-s', 'rr')
r('-A', '-t', '192.0.2.57:80', '-p', '-M', 'vip'); r('-A', '-f', '7', '-s', 'rr'); r('-a', '-f', '7', '-r', 'rs1:80', '-m')
for v in [(), ('-n',), ('--stats',), ('--thresholds',), ('--tun-info',), ('-t', 'vip:80'), ('-t', '192.0.2.5:http'), ('-u', '192.0.2.53:53'), ('-t', '[2001:db8::10]:80')]:
    r('-L', *v)
r('-S'); r('-S', '-n'); r('-L', '-c'); r('-L')

group('sorting')
case('real servers: merge sort over the signed address difference')
r('-A', '-t', '192.168.1.230:80', '-s', 'rr')
for a in ['10.0.0.5', '192.168.1.100', '192.168.1.201', '10.0.0.4', '172.16.5.5', '192.168.1.2', '128.0.0.9', '127.0.0.2']:
    r('-a', '-t', '192.168.1.230:80', '-r', a, '-m')
r('-L', '-n'); r('-L', '-n', '--nosort'); r('-S', '-n'); r('-L', '-n', '--stats', '--nosort')
case('real servers: second order')
r('-A', '-t', '192.168.1.231:80', '-s', 'rr')
for a in ['192.168.1.5', '192.168.1.7', '192.168.1.8:8080', '10.9.9.9', '127.0.0.1', '192.168.1.1', '192.168.1.8:80', '192.168.1.8:79']:
    r('-a', '-t', '192.168.1.231:80', '-r', a, '-m')
r('-L', '-n'); r('-L', '-n', '--nosort')
case('real servers: IPv6 and mixed families')
r('-A', '-t', '[2001:db8::20]:80', '-s', 'rr')
for a in ['[2001:db8:1::5]:80', '[fd00::1]:80', '[2001:db8:1::5]:79', '[::1]:80', '[2001:db8:1:0:8000::1]:80', '[9000::1]:80', '198.51.100.1']:
    r('-a', '-t', '[2001:db8::20]:80', '-r', a, '-m' if a[0] == '[' else '-i')
r('-A', '-t', '192.0.2.20:80', '-s', 'rr')
for a in ['198.51.100.9', '[2001:db8:1::5]', '10.0.0.1', '[::1]', '203.0.113.1']:
    r('-a', '-t', '192.0.2.20:80', '-r', a, '-i')
r('-L', '-n'); r('-L', '-n', '--nosort', '-t', '[2001:db8::20]:80'); r('-L', '-n', '--nosort', '-t', '192.0.2.20:80'); r('-S', '-n')
case('services: fwmark, family, protocol, address, port')
for s in [('-t', '10.0.0.2:80'), ('-u', '192.168.1.1:80'), ('-t', '192.168.1.1:81'), ('-t', '192.168.1.1:80'), ('-f', '3'), ('-f', '2', '-6'),
          ('-f', '1'), ('-t', '[2001:db8::1]:80'), ('-u', '[2001:db8::1]:80'), ('--sctp-service', '192.168.1.1:80'),
          ('-t', '10.0.0.1:80'), ('-t', '[2001:db8::2]:80'), ('-t', '[fd00::1]:80')]:
    r('-A', *s, '-s', 'rr', *(('-p',) if s[0] == '-f' else ()))
r('-L', '-n'); r('-S', '-n'); r('-L', '-n', '--stats')
PY

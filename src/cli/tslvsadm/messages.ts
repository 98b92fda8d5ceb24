/**
 * Every sentence tslvsadm prints, and the only file holding ipvsadm's wording: the messages of
 * ipvsadm.c (fail(), generic_opt_check, tunnel_opt_check, tryhelp_exit), popt's poptStrerror,
 * libipvs.c's ipvs_strerror table keyed by the core's IpvsOp names (src/core/errors.ts), and
 * glibc's strerror texts for the errnos the daemon can return.
 *
 * tslvs additions never replace ipvsadm's line: where ipvsadm names no fix, a second line
 * "hint: ..." follows it. The hints live here too, next to the message they explain.
 */

/** ipvsadm's cmdnames[], indexed by Cmd - 1 (options.ts). */
export const CMD_NAMES = [
  'add-service', 'edit-service', 'delete-service', 'flush', 'list', 'add-server', 'delete-server',
  'edit-server', 'set', 'start-daemon', 'stop-daemon', 'restore', 'save', 'zero',
] as const;

/** ipvsadm's optnames[], indexed by Optc (options.ts); the last two are tslvs extensions. */
export const OPT_NAMES = [
  'numeric', 'connection', 'service-address', 'scheduler', 'persistent', 'netmask', 'real-server',
  'forwarding-method', 'weight', 'u-threshold', 'l-threshold', 'mcast-interface', 'timeout', 'daemon',
  'stats', 'rate', 'thresholds', 'persistent-conn', 'nosort', 'syncid', 'exact', 'ops', 'pe',
  'sched-flags', 'mcast-group', 'mcast-port', 'mcast-ttl', 'sync-maxlen', 'tun-info', 'tun-type',
  'tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum',
  'json', 'proxy-protocol',
] as const;

export const TUN_NAMES = ['ipip', 'gue', 'gre'] as const;

/** ipvsadm's version line: tslvsadm keeps it, so scripts that check it keep working. */
export const VERSION_LINE = 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)';

/** What tslvsadm prints for a failure, and the exit status that goes with it. */
export interface Failure {
  exit: number;
  /** ipvsadm's text, exactly (may contain newlines, no final newline). */
  text: string;
  /** tslvs's fix, printed as a second line "hint: ..." when ipvsadm names none. */
  hint?: string;
}

const f = (text: string, hint?: string, exit = 2): Failure => (hint === undefined ? { exit, text } : { exit, text, hint });

/** Usage errors: ipvsadm's fail(2, ...) and tryhelp_exit(-1) messages. */
export const M = {
  tryHelp: (program: string): Failure => ({ exit: 255, text: `Try \`${program} -h' or '${program} --help' for more information.` }),
  multipleOption: (opt: string): Failure => f(`multiple '${opt}' options specified`),
  illegalStartDaemon: (): Failure => f('illegal start-daemon parameter specified', 'use --start-daemon master or --start-daemon backup'),
  illegalStopDaemon: (): Failure => f('illegal start_daemon specified', 'use --stop-daemon master or --stop-daemon backup'),
  illegalServiceAddress: (): Failure => f('illegal virtual server address[:port] specified',
    'give host[:port] with a port number or a service name from /etc/services, e.g. 192.0.2.1:80 or [2001:db8::1]:443'),
  invalidFwmark: (v: string): Failure => f(`invalid fwmark value \`${v}' specified`, 'a firewall mark is a whole number from 1 to 4294967295'),
  invalidTimeout: (v: string, min: number): Failure => f(`invalid timeout value \`${v}' specified`,
    min === 0 ? 'each --set value is whole seconds from 0 to 2678400 (0 keeps the current value)'
      : 'the persistence timeout is whole seconds from 1 to 2678400 (31 days)'),
  illegalPersistentMask: (): Failure => f('illegal virtual server persistent mask specified', 'give a dotted netmask, e.g. -M 255.255.255.0'),
  illegalIpv6Netmask: (): Failure => f('illegal ipv6 netmask specified', 'give a prefix length from 1 to 128, after the IPv6 service address'),
  illegalRealServer: (): Failure => f('illegal real server address[:port] specified',
    'give host[:port] with a port number or a service name from /etc/services, e.g. -r 198.51.100.10:8080'),
  illegalWeight: (): Failure => f('illegal weight specified', 'a weight is a whole number from 0 to 2147483647'),
  illegalUThreshold: (): Failure => f('illegal u_threshold specified', 'a threshold is a whole number from 0 to 2147483647 (0: no limit)'),
  illegalLThreshold: (): Failure => f('illegal l_threshold specified', 'a threshold is a whole number from 0 to 2147483647 (0: no limit)'),
  illegalSyncid: (): Failure => f('illegal syncid specified', 'a sync id is a whole number from 0 to 255'),
  ipv6BeforeFwmark: (): Failure => f('-6 used before -f\n', 'put -6 after -f <mark>'),
  invalidMcastGroup6: (v: string): Failure => f(`invalid IPv6 mcast-group \`${v}'`, 'give an IPv6 multicast address, e.g. ff02::81'),
  invalidMcastGroup4: (v: string): Failure => f(`invalid IPv4 mcast-group \`${v}'`, 'give an IPv4 multicast address, e.g. 224.0.0.81'),
  illegalMcastPort: (): Failure => f('illegal mcast-port specified', 'a port is a whole number from 1 to 65535'),
  illegalMcastTtl: (): Failure => f('illegal mcast-ttl specified', 'a TTL is a whole number from 1 to 255'),
  illegalSyncMaxlen: (): Failure => f('illegal sync-maxlen specified', 'a sync message length is from 1 to 65507 bytes'),
  illegalTunnelType: (): Failure => f('illegal tunnel type specified', 'the tunnel type is one of ipip, gue, gre'),
  illegalTunnelPort: (): Failure => f('illegal tunnel port specified', 'a port is a whole number from 1 to 65535'),
  illegalProxyProtocol: (): Failure => f('illegal proxy-protocol version specified', 'the PROXY protocol version is 1 or 2'),
  invalidOption: (o: string): Failure => f(`invalid option \`${o}'`,
    'only the first option is a command (-A, -E, -D, -C, -R, -S, -a, -e, -d, -L, -Z, --set, ...): run a second tslvsadm for another one'),
  setNeedsThree: (): Failure => f('--set option requires 3 timeout values', 'e.g. --set 900 120 300 (tcp tcpfin udp; 0 keeps a value)'),
  unexpectedArgument: (a: string): Failure => f(`unexpected argument ${a}`,
    'remove it; a value belongs right after its option (restore input has no comments)'),
  incompatibleSchedFlag: (flag: string): Failure => f(`incompatible scheduler flag \`${flag}'`,
    'sh-fallback and sh-port need -s sh, mh-fallback and mh-port need -s mh, on the same command line'),
  invalidSchedFlag: (flag: string): Failure => f(`invalid scheduler flag \`${flag}'`,
    'scheduler flags are flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port'),
  needOption: (opt: string, cmd: string): Failure => f(`You need to supply the '${opt}' option for the '${cmd}' command`),
  illegalOption: (opt: string, cmd: string): Failure => f(`Illegal '${opt}' option with the '${cmd}' command`),
  optionConflict: (opt: string, last: string, cmd: string): Failure => f(`The option '${opt}' conflicts with the '${last}' option in the '${cmd}' command`),
  needTunOption: (opt: string, type: string): Failure => f(`You need to supply the '${opt}' option for the '${type}' tunnel type`),
  illegalTunOption: (opt: string, type: string): Failure => f(`Illegal '${opt}' option with the '${type}' tunnel type`),
  tunOptionConflict: (opt: string, last: string, type: string): Failure =>
    f(`The option '${opt}' conflicts with the '${last}' option in the '${type}' tunnel type`),
  zeroPort: (): Failure => f('Zero port specified for non-persistent service', 'give a port (e.g. -t 192.0.2.1:80), or make the service persistent with -p'),
  opsOnlyUdp: (): Failure => f('One-Packet Scheduling is only for UDP virtual services', 'use -u for the service, or leave out -o'),
  differentAf: (): Failure => f('Different address family is allowed only for tunneling servers',
    'use a real server of the service\'s address family, or tunnelling (-i)'),
  tunnelConflict: (): Failure => f('Tunnel options conflict with forward method', 'add -i (tunnelling), or leave out the --tun-* options'),
  listConflict: (): Failure => f('options conflicts in the list command',
    'list counters (--stats, --rate, --thresholds) apart from -c, --timeout and --daemon'),
} as const;

/** popt's poptStrerror for the errors the scanner reports; the line is "<bad option>: <text>". */
export const POPT_ERRORS = {
  NOARG: 'missing argument',
  BADOPT: 'unknown option',
  UNWANTEDARG: 'option does not take an argument',
} as const;

export function poptFailure(badOpt: string, code: keyof typeof POPT_ERRORS): Failure {
  const hint = code === 'NOARG' ? `give a value after ${badOpt}`
    : code === 'UNWANTEDARG' ? 'leave out the "=value"'
      : 'see tslvsadm -h for the options (long names cannot be abbreviated)';
  return { exit: 255, text: `${badOpt}: ${POPT_ERRORS[code]}`, hint };
}

/** glibc strerror texts of the errnos a control operation can return. */
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  E2BIG: 'Argument list too long',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ENOSPC: 'No space left on device',
  ERANGE: 'Numerical result out of range',
  EMSGSIZE: 'Message too long',
  ENOPROTOOPT: 'Protocol not available',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETUNREACH: 'Network is unreachable',
  ENOBUFS: 'No buffer space available',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENOTSUP: 'Operation not supported',
};

export function strerror(errno: string): string {
  return STRERROR[errno] ?? `Unknown error ${errno}`;
}

/**
 * libipvs.c ipvs_strerror: (operation, errno) → text, first match wins; rows with op null
 * match any operation; otherwise strerror(errno). The daemon names operations by the core's
 * IpvsOp; 'zero' (all services) is libipvs's ipvs_zero_service as well.
 */
const IPVS_STRERROR: readonly (readonly [string | null, string, string])[] = [
  ['add-service', 'EEXIST', 'Service already exists'],
  ['add-service', 'ENOENT', 'Scheduler or persistence engine not found'],
  ['edit-service', 'ESRCH', 'No such service'],
  ['edit-service', 'ENOENT', 'Scheduler or persistence engine not found'],
  ['del-service', 'ESRCH', 'No such service'],
  ['zero-service', 'ESRCH', 'No such service'],
  ['add-dest', 'ESRCH', 'Service not defined'],
  ['add-dest', 'EEXIST', 'Destination already exists'],
  ['edit-dest', 'ESRCH', 'Service not defined'],
  ['edit-dest', 'ENOENT', 'No such destination'],
  ['del-dest', 'ESRCH', 'Service not defined'],
  ['del-dest', 'ENOENT', 'No such destination'],
  ['start-daemon', 'EEXIST', 'Daemon has already run'],
  ['stop-daemon', 'ESRCH', 'No daemon is running'],
  ['get-services', 'ESRCH', 'No such service'],
  ['get-dests', 'ESRCH', 'No such service'],
  ['get-service', 'ESRCH', 'No such service'],
  [null, 'EPERM', 'Permission denied (you must be root)'],
  [null, 'EINVAL', 'Invalid operation.  Possibly wrong module version, address not unicast, ...'],
  [null, 'ENOPROTOOPT', 'Protocol not available'],
  [null, 'ENOMEM', 'Memory allocation problem'],
  [null, 'EOPNOTSUPP', 'Operation not supported with IPv6'],
  [null, 'EAFNOSUPPORT', 'Operation not supported with specified address family'],
  [null, 'EMSGSIZE', 'Module is wrong version'],
];

export function ipvsStrerror(op: string, errno: string): string {
  const o = op === 'zero' ? 'zero-service' : op;
  for (const [rop, rerr, text] of IPVS_STRERROR) {
    if ((rop === null || rop === o) && rerr === errno) return text;
  }
  return strerror(errno);
}

/** tslvs's fix for a kernel-style failure (ipvsadm prints the bare errno text). */
export function ipvsHint(op: string, errno: string): string | undefined {
  const o = op === 'zero' ? 'zero-service' : op;
  const k = `${o} ${errno}`;
  switch (k) {
    case 'add-service EEXIST': return 'change it with -E, or delete it first with -D';
    case 'add-service ENOENT':
    case 'edit-service ENOENT': return 'schedulers: rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos none; persistence engine: sip';
    case 'edit-service ESRCH':
    case 'del-service ESRCH':
    case 'zero-service ESRCH':
    case 'get-service ESRCH': return 'list the services with tslvsadm -L -n (an IPv6 fwmark service needs -f <mark> -6)';
    case 'add-dest ESRCH':
    case 'edit-dest ESRCH':
    case 'del-dest ESRCH': return 'add the virtual service first with -A, or check its address with tslvsadm -L -n';
    case 'add-dest EEXIST': return 'change it with -e, or delete it first with -d';
    case 'edit-dest ENOENT':
    case 'del-dest ENOENT': return 'list the real servers with tslvsadm -L -n (with -g or -i the real server port is the service port)';
    case 'add-dest ERANGE':
    case 'edit-dest ERANGE': return 'the lower threshold (-y) cannot exceed the upper one (-x); give -x as well';
    default: break;
  }
  if (errno === 'EINVAL') return 'a value is out of range or an address is not unicast; see docs/tslvsadm.md';
  if (errno === 'EPERM') return 'run as the daemon\'s user, or point TSLVS_SOCKET at your own daemon';
  return undefined;
}

/** tslvs: connection synchronisation is not implemented; one line, never a pretend success. */
export function syncNotSupported(start: boolean, state: string): Failure {
  return {
    exit: 255,
    text: start
      ? `Cannot start the ${state} sync daemon: connection synchronisation is not supported by tslvs yet`
      : `Cannot stop a ${state} sync daemon: connection synchronisation is not supported by tslvs yet`,
  };
}

/** tslvs: the daemon could not be reached; a one-line message that says how to start it. */
export function noDaemon(message: string | undefined, hint: string | undefined, code: string | undefined): Failure {
  const msg = message ?? 'No tslvs daemon is listening on the control socket';
  const fix = hint ?? 'start one with "tslvs run", or point to it with TSLVS_SOCKET=PATH';
  return { exit: 2, text: `tslvsadm: ${msg}; ${fix}${code ? ` (${code})` : ''}` };
}

/** tslvs: the daemon answered something tslvsadm did not expect. */
export function badReply(what: string, got: string): Failure {
  return {
    exit: 255,
    text: `tslvsadm: the daemon answered "${got}" to ${what}; use a tslvsadm of the same version as the daemon (TSLVS_ERR_PROTOCOL)`,
  };
}

/** ipvsadm's -c failure (it cannot read /proc/net/ip_vs_conn), with the daemon's reason. */
export function cannotOpenConnFile(reason: string): Failure {
  return { exit: 1, text: 'cannot open file /proc/net/ip_vs_conn', hint: `the daemon could not list connections: ${reason}` };
}

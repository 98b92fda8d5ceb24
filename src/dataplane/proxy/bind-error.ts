/**
 * A failed bind/listen of a virtual service, in one line with the fix (STYLE rule 6).
 */
import { getSystemErrorName } from 'node:util';
import { AF_INET6, type IpAddr } from '../../core/addr.js';
import { TslvsError } from '../../errors.js';

export function addrPortText(addr: IpAddr, port: number): string {
  return addr.af === AF_INET6 ? `[${addr.toString()}]:${port}` : `${addr.toString()}:${port}`;
}

/** `err`: a negative libuv errno, or a Node system error (dgram). */
export function bindError(proto: 'TCP' | 'UDP', addr: IpAddr, port: number, err: number | Error): TslvsError {
  const errno = typeof err === 'number' ? safeErrName(err) : String((err as { code?: string }).code ?? err.message);
  const where = `Cannot listen on "${addrPortText(addr, port)}" (${proto})`;
  const v6 = addr.af === AF_INET6;
  const a = addr.toString();
  const ss = proto === 'TCP' ? 'ss -ltnp' : 'ss -lunp';
  let what: string;
  let hint: string;
  switch (errno) {
    case 'EADDRNOTAVAIL':
      what = 'the address is not configured on this host';
      hint = v6
        ? `add it ("ip -6 addr add ${a}/128 dev lo") or allow non-local binds ("sysctl -w net.ipv6.ip_nonlocal_bind=1")`
        : `add it ("ip addr add ${a}/32 dev lo") or allow non-local binds ("sysctl -w net.ipv4.ip_nonlocal_bind=1")`;
      break;
    case 'EADDRINUSE':
      what = 'another socket already listens there';
      hint = `stop that program ("${ss} 'sport = :${port}'" shows it) or use another virtual port`;
      break;
    case 'EACCES':
    case 'EPERM':
      what = 'permission denied';
      hint = `run tslvs as root, give node CAP_NET_BIND_SERVICE, or "sysctl -w net.ipv4.ip_unprivileged_port_start=${port}"`;
      break;
    case 'EAFNOSUPPORT':
      what = 'this address family is not available';
      hint = v6 ? 'enable IPv6 on this host or use an IPv4 virtual address' : 'check the host network configuration';
      break;
    default:
      what = 'the system refused it';
      hint = 'check the address and the host network configuration';
  }
  return new TslvsError('TSLVS_ERR_DATAPLANE_REFUSED', `${where}: ${what} (${errno})`, hint, { errno });
}

function safeErrName(err: number): string {
  try {
    return getSystemErrorName(err);
  } catch {
    return `errno ${err}`;
  }
}

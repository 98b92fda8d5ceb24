/**
 * UDP entries, as net/netfilter/ipvs/ip_vs_proto_udp.c: one state (IP_VS_UDP_S_NORMAL, shown
 * as "UDP") whose timeout every packet re-arms; `ipvsadm --set` changes it. A UDP entry never
 * counts as active. A reply (OUTPUT) marks the controlling persistence template ASSURED.
 */

export const IP_VS_UDP_S_NORMAL = 0;
export const IP_VS_UDP_S_LAST = 1;

/** udp_timeouts[IP_VS_UDP_S_NORMAL] in seconds (the default of `--set`'s third value). */
export const UDP_TIMEOUT_S = 300;

export function udpStateName(state: number): string {
  return state === IP_VS_UDP_S_NORMAL ? 'UDP' : 'ERR!';
}

/**
 * The proxy dataplane's boundary (loaded lazily by src/dataplane/factory.ts): LVS masquerading
 * as a full TCP/UDP proxy with sockets, no root needed. See docs/dataplanes.md.
 */
import type { Dataplane, DataplaneOptions } from '../dataplane.js';
import { ProxyDataplane } from './proxy-dataplane.js';

export { ProxyDataplane } from './proxy-dataplane.js';
export { PROXY_DEFAULTS, type ProxySettings } from './settings.js';

export function createDataplane(opts: DataplaneOptions): Promise<Dataplane> {
  return Promise.resolve().then(() => new ProxyDataplane(opts));
}

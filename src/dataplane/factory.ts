/**
 * Creates a dataplane by kind. `none` is built in; the others are loaded lazily with a dynamic
 * import, so `--dataplane none` or `proxy` never loads the packet dataplane's native addon
 * (STYLE rule 8) and a build without a dataplane still runs the rest. Each dataplane module
 * (`./<kind>/index.js`) exports `createDataplane(opts: DataplaneOptions): Promise<Dataplane>`.
 */
import { TslvsError } from '../errors.js';
import type { Dataplane, DataplaneKind, DataplaneOptions } from './dataplane.js';
import { NoneDataplane } from './none/none-dataplane.js';

export const DATAPLANE_KINDS: readonly DataplaneKind[] = ['none', 'proxy', 'packet', 'kernel'];

/** Where each lazily loaded dataplane lives, relative to this file. */
export const DATAPLANE_MODULES: Readonly<Record<Exclude<DataplaneKind, 'none'>, string>> = Object.freeze({
  proxy: './proxy/index.js',
  packet: './packet/index.js',
  kernel: './kernel/index.js',
});

interface DataplaneModule {
  createDataplane?: (opts: DataplaneOptions) => Promise<Dataplane>;
}

const OTHER_HINT = 'choose another dataplane with --dataplane (proxy, or none for a dry run), or reinstall tslvs';

export async function createDataplane(
  kind: DataplaneKind,
  opts: DataplaneOptions,
  modules: Readonly<Record<string, string>> = DATAPLANE_MODULES,
): Promise<Dataplane> {
  if (kind === 'none') return new NoneDataplane();
  const spec = modules[kind];
  if (spec === undefined) {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE', `Unknown dataplane "${kind}"`, OTHER_HINT);
  }
  const url = new URL(spec, import.meta.url);
  let mod: DataplaneModule;
  try {
    mod = (await import(url.href)) as DataplaneModule;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Only the dataplane's own file missing means "not in this build"; anything else (a missing
    // dependency, a syntax error, a native addon that fails to load) is passed on in words.
    if (e.code === 'ERR_MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(url.pathname)) {
      throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
        `Dataplane "${kind}" is not part of this build (no module "${url.pathname}")`, OTHER_HINT, { cause: err });
    }
    const first = String(e.message ?? err).split('\n')[0];
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE', `Dataplane "${kind}" failed to load: ${first}`,
      kind === 'packet' ? 'build the native addon in native/ (see docs/dataplanes.md), or use --dataplane proxy' : OTHER_HINT, { cause: err });
  }
  if (typeof mod.createDataplane !== 'function') {
    throw new TslvsError('TSLVS_ERR_DATAPLANE_UNAVAILABLE',
      `Dataplane "${kind}" module "${url.pathname}" does not export createDataplane`, OTHER_HINT);
  }
  return mod.createDataplane(opts);
}

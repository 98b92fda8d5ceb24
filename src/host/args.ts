/**
 * Command-line parsing for `tslvs realserver` and `tslvs director`: `ACTION [--flag VALUE]...`,
 * flags that may be repeated (--vip) collected in order, `--flag=VALUE` accepted. Parsed once,
 * all or nothing: the first unknown flag, missing value or repeated single flag throws
 * TSLVS_ERR_BAD_OPTION naming the fix (the CLI exits 2 and changes nothing).
 */
import { TslvsError } from '../errors.js';

export interface FlagSpec {
  flags: readonly string[];
  key: string;
  value: string;
  help: string;
  repeat?: boolean;
}

export interface ParsedArgs {
  action: string;
  values: Map<string, string[]>;
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], cmd: string, actions: readonly string[]): ParsedArgs {
  const [action, ...rest] = argv;
  if (action === undefined || !actions.includes(action)) {
    throw new TslvsError('TSLVS_ERR_BAD_OPTION', action === undefined ? `"${cmd}" needs an action` : `Unknown action "${action}" for "${cmd}"`,
      `use ${cmd} ${actions.join('|')} (tslvs help shows the options)`);
  }
  const values = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = specs.find((s) => s.flags.includes(flag));
    if (!spec) {
      const known = specs.map((s) => s.flags[s.flags.length - 1]);
      throw new TslvsError('TSLVS_ERR_BAD_OPTION',
        arg.startsWith('-') ? `Unknown option "${flag}" for "${cmd} ${action}"` : `Unexpected argument "${arg}" for "${cmd} ${action}"`,
        `known options: ${known.join(', ')}${arg.startsWith('-') ? '' : `; give an address as --vip ${arg}`}`);
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < rest.length) value = rest[++i];
    else throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" needs a value`, `give it as ${flag} ${spec.value}`);
    if (value === '') throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" has an empty value`, `give it as ${flag} ${spec.value}`);
    const list = values.get(spec.key) ?? [];
    if (list.length > 0 && !spec.repeat) throw new TslvsError('TSLVS_ERR_BAD_OPTION', `Option "${flag}" given twice`, 'give it once');
    list.push(value);
    values.set(spec.key, list);
  }
  return { action, values };
}

/** Help lines for a list of flags. */
export function flagHelp(specs: readonly FlagSpec[]): string[] {
  return specs.map((o) => `  ${`${o.flags.join(', ')} ${o.value}`.padEnd(32)} ${o.help}`);
}

/**
 * Loads the ipvsadm goldens of test/golden/ipvsadm (recorded by record-ipvsadm.sh in the IPVS
 * oracle) and compares a run's output with them. Not a test file: the replay tests import it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const GOLDEN_DIR = join(REPO, 'test', 'golden', 'ipvsadm');
/** The name services the goldens were recorded with (tslvsadm reads only these in tests). */
export const GOLDEN_ENV = {
  TSLVSADM_HOSTS_FILE: join(GOLDEN_DIR, 'etc-hosts'),
  TSLVSADM_SERVICES_FILE: join(GOLDEN_DIR, 'etc-services'),
};

export interface Step {
  argv: string[];
  env: Record<string, string>;
  stdin: string | null;
  stdout: string;
  stderr: string;
  code: number;
  /** 1-based line of the "$" line in the golden file. */
  line: number;
}

export interface GoldenCase {
  file: string;
  name: string;
  steps: Step[];
}

function joinLines(lines: string[], noNewline: boolean): string {
  if (lines.length === 0) return '';
  return lines.join('\n') + (noNewline ? '' : '\n');
}

export function parseGoldenFile(file: string, text: string): GoldenCase[] {
  const cases: GoldenCase[] = [];
  let cur: GoldenCase | null = null;
  let step: (Step & { out: string[]; err: string[]; outNl: boolean; errNl: boolean }) | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith('## ')) {
      cur = { file, name: l.slice(3), steps: [] };
      cases.push(cur);
    } else if (l.startsWith('$ ')) {
      step = { argv: JSON.parse(l.slice(2)) as string[], env: {}, stdin: null, stdout: '', stderr: '', code: -1, line: i + 1, out: [], err: [], outNl: false, errNl: false };
    } else if (l.startsWith('% ') && step) {
      step.env = JSON.parse(l.slice(2)) as Record<string, string>;
    } else if (l.startsWith('< ') && step) {
      step.stdin = JSON.parse(l.slice(2)) as string;
    } else if (l.startsWith('1|') && step) {
      step.out.push(l.slice(2));
    } else if (l.startsWith('2|') && step) {
      step.err.push(l.slice(2));
    } else if (l === '1\\ no newline at end' && step) {
      step.outNl = true;
    } else if (l === '2\\ no newline at end' && step) {
      step.errNl = true;
    } else if (l.startsWith('= ') && step && cur) {
      const { out, err, outNl, errNl, ...rest } = step;
      cur.steps.push({ ...rest, stdout: joinLines(out, outNl), stderr: joinLines(err, errNl), code: Number(l.slice(2)) });
      step = null;
    }
  }
  return cases;
}

/** The command-line goldens of record-ipvsadm.sh (roundtrip*.txt are record-roundtrip.sh's). */
export function loadGoldens(): GoldenCase[] {
  return readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.txt') && !f.startsWith('roundtrip')).sort()
    .flatMap((f) => parseGoldenFile(f, readFileSync(join(GOLDEN_DIR, f), 'utf8')));
}

/** tslvs's "hint: ..." lines come after ipvsadm's; compare without them. */
export function withoutHints(stderr: string): string {
  return stderr.split('\n').filter((l) => !l.startsWith('hint: ')).join('\n');
}

/**
 * --nosort prints services in the kernel's hash order, which no one can reproduce: compare
 * such listings as a set of service blocks (each block keeps its real servers in order).
 */
export function normaliseNosort(argv: readonly string[], stdout: string): string {
  if (!argv.includes('--nosort') || argv.some((a) => ['-t', '-u', '-f', '--sctp-service'].includes(a))) return stdout;
  const body = stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout;
  const lines = body.split('\n');
  const head: string[] = [];
  const blocks: string[][] = [];
  for (const l of lines) {
    if (/^(TCP|UDP|SCTP|FWM) /.test(l) || /^-A /.test(l)) blocks.push([l]);
    else if (blocks.length) blocks[blocks.length - 1].push(l);
    else head.push(l);
  }
  return [...head, ...blocks.map((b) => b.join('\n')).sort()].join('\n');
}

export function describe(c: GoldenCase, s: Step): string {
  return `${c.file}:${s.line} [${c.name}] tslvsadm ${s.argv.map((a) => JSON.stringify(a)).join(' ')}`;
}

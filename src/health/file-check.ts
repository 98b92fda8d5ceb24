/**
 * FILE_CHECK (keepalived/check/check_file.c, trackers/track_file.c): the real server follows a
 * number written in a file. keepalived watches the file with inotify; tslvs reads it when the
 * runner polls (every delay_loop of the checker, and on fs.watch events), and reports the value
 * to the verdict, which applies the weight rules (weight 0: non-zero means down; otherwise
 * value × weight, negated with reverse, added to the weight, at or below -2^31 meaning down).
 * The value is read as keepalived does: strtol(base 0) of the first 127 bytes, a missing or
 * empty file is 0, an out-of-range number is ignored.
 */
import { closeSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { FileCheck } from '../config/keepalived/types.js';

/** track_file.c process_track_file: the value, or null when it must be ignored. */
export function parseTrackFileValue(text: string): number | null {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return 0;
  const digits = m[2];
  let v: number;
  if (/^0[xX]/.test(digits)) v = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits[0] === '0') v = parseInt(digits, 8);
  else v = Number(digits);
  if (m[1] === '-') v = -v;
  if (!Number.isFinite(v) || v < -2147483648 || v > 2147483648) return null;
  return v;
}

export function readTrackFile(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    const buf = Buffer.alloc(127);
    const n = readSync(fd, buf, 0, 127, 0);
    return n > 0 ? parseTrackFileValue(buf.subarray(0, n).toString('latin1')) : 0;
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** Watches a tracked file's directory; calls back on any change there (the caller re-reads). */
export function watchTrackFile(c: FileCheck, onChange: () => void): FSWatcher | null {
  try {
    return watch(dirname(c.path), { persistent: false }, () => onChange());
  } catch {
    return null;
  }
}

/**
 * The state files of `tslvs realserver` and `tslvs director` (`realserver.json`,
 * `director.json` in the state directory): what start changed on this host, so stop can put
 * every value back. Written atomically — a temporary file, fsync, rename over the old one,
 * fsync of the directory — so a crash leaves the old file or the new one, never half of one.
 * A file that does not parse is reported with its path, never silently dropped: it is the only
 * record of the values to restore.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { systemErrno, TslvsError } from '../errors.js';

/** Reads a state file; null when there is none. */
export async function readStateFile<T extends { format: string }>(path: string, format: T['format']): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (systemErrno(err) === 'ENOENT') return null;
    throw new TslvsError('TSLVS_ERR_HOST_STATE', `Cannot read state file "${path}"${systemErrno(err) ? ` (${systemErrno(err)})` : ''}`,
      'run as the user who ran start (root), or choose the same directory with --state-dir / TSLVS_STATE_DIR', { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!value || typeof value !== 'object' || (value as { format?: unknown }).format !== format) {
    throw new TslvsError('TSLVS_ERR_HOST_STATE', `State file "${path}" is not a ${format} file (damaged?)`,
      'read it and undo its changes by hand, then remove it; start writes a new one');
  }
  return value as T;
}

/** Replaces the state file atomically. */
export async function writeStateFile(path: string, value: object): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${path.slice(dir.length + 1)}.tmp-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(dir);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const errno = systemErrno(err);
    throw new TslvsError('TSLVS_ERR_HOST_STATE', `Cannot write state file "${path}"${errno ? ` (${errno})` : ''}`,
      'run as root (default /var/lib/tslvs), or choose a writable directory with --state-dir DIR or TSLVS_STATE_DIR', { cause: err });
  }
}

export async function removeStateFile(path: string): Promise<void> {
  try {
    await unlink(path);
    await syncDir(dirname(path));
  } catch (err) {
    if (systemErrno(err) === 'ENOENT') return;
    throw new TslvsError('TSLVS_ERR_HOST_STATE', `Cannot remove state file "${path}" (${systemErrno(err) ?? 'error'})`,
      'remove it by hand: everything it recorded has been undone', { cause: err });
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    /* some file systems refuse fsync on a directory; the rename is still atomic */
  } finally {
    await fh.close();
  }
}

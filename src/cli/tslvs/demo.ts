/**
 * `tslvs demo`: a guided dry run of a director on this machine. The slot is reserved here so
 * the subcommand exists in `tslvs help`; its author replaces this file.
 */
export async function runDemo(_argv: readonly string[]): Promise<number> {
  process.stdout.write('tslvs demo: not yet\n');
  return 1;
}

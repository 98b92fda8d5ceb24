/**
 * -R input, split into command lines exactly as ipvsadm's config_stream_read does: tokens are
 * runs of characters other than space, tab, CR and LF (at most 4096 characters each); every
 * token that is exactly "ipvsadm" is dropped; a line ends at LF. There are no comments ("#"
 * is an ordinary token). Two quirks are kept: two or more blanks after the last token of input
 * that has no final newline throw that last line away (fscanf reads one blank with the token,
 * then finds end of input while skipping the rest), and a line of nothing but blanks at the
 * very end stops reading.
 */

const MAX_LINE_LENGTH = 4096;

const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** The token lists of the lines, in order (empty lists are lines ipvsadm skips). */
export function splitRestoreInput(text: string): string[][] {
  const { lines, tail } = splitRestoreLines(text);
  const out = lines.map(tokensOf);
  if (tail) out.push(tail);
  return out;
}

/**
 * The input as lines: the text of each line that ends in LF (tokensOf splits it as
 * config_stream_read does), and the tokens of a last line without LF, or null when there is
 * none (or config_stream_read would throw it away).
 */
export function splitRestoreLines(text: string): { lines: string[]; tail: string[] | null } {
  const lines: string[] = [];
  let pos = 0;
  const n = text.length;
  for (let nl = text.indexOf('\n', pos); nl >= 0; nl = text.indexOf('\n', pos)) {
    lines.push(text.slice(pos, nl));
    pos = nl + 1;
  }
  // The last line has no LF: follow config_stream_read character by character.
  return { lines, tail: pos < n ? lastLine(text.slice(pos)) : null };
}

const BLANKS = /[ \t\r]+/;

/** The tokens of a whole line (one that ended in LF), as config_stream_read reads them. */
export function tokensOf(line: string): string[] {
  const out: string[] = [];
  for (const t of line.split(BLANKS)) {
    if (t.length === 0) continue;
    if (t.length <= MAX_LINE_LENGTH) {
      if (t !== 'ipvsadm') out.push(t);
      continue;
    }
    for (let k = 0; k < t.length; k += MAX_LINE_LENGTH) {
      const piece = t.slice(k, k + MAX_LINE_LENGTH);
      if (piece !== 'ipvsadm') out.push(piece);
    }
  }
  return out;
}

/** One config_stream_read call on input without a final LF: the tokens, or null (no line). */
function lastLine(text: string): string[] | null {
  const tokens: string[] = [];
  const n = text.length;
  let pos = 0;
  for (;;) {
    if (pos >= n) return tokens.length === 0 ? null : tokens;
    // fscanf("%4096[^ \t\n\r]%1[ \t\n\r]")
    const start = pos;
    while (pos < n && pos - start < MAX_LINE_LENGTH && !isWs(text.charCodeAt(pos))) pos++;
    if (pos === start) {
      // No token: skip blanks; reaching the end of input here discards the line.
      while (pos < n && isWs(text.charCodeAt(pos))) pos++;
      if (pos >= n) return null;
      continue;
    }
    const token = text.slice(start, pos);
    if (pos < n && isWs(text.charCodeAt(pos))) pos++;
    if (token !== 'ipvsadm') tokens.push(token);
  }
}

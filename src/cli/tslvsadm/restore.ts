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
  const lines: string[][] = [];
  let pos = 0;
  const n = text.length;
  for (;;) {
    // One config_stream_read call.
    const tokens: string[] = [];
    let ntoken = 0;
    let result: 'line' | 'stop' | null = null;
    while (result === null) {
      if (pos >= n) {
        result = ntoken === 0 ? 'stop' : 'line';
        break;
      }
      // fscanf("%4096[^ \t\n\r]%1[ \t\n\r]")
      const start = pos;
      while (pos < n && pos - start < MAX_LINE_LENGTH && !isWs(text.charCodeAt(pos))) pos++;
      if (pos === start) {
        // No token: skip blanks up to the end of the line; end of input here discards the line.
        for (;;) {
          if (pos >= n) return lines;
          const c = text.charCodeAt(pos++);
          if (c === 0x0a) {
            result = 'line';
            break;
          }
          if (c === 0x20 || c === 0x09 || c === 0x0d) continue;
          pos--;
          break;
        }
        continue;
      }
      const token = text.slice(start, pos);
      let tail = -1;
      if (pos < n && isWs(text.charCodeAt(pos))) tail = text.charCodeAt(pos++);
      if (token !== 'ipvsadm') {
        ntoken++;
        tokens.push(token);
      }
      if (tail === 0x0a) result = 'line';
    }
    if (result === 'stop') return lines;
    lines.push(tokens);
  }
}

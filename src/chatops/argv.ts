/**
 * Splits slash-command text into positionals and `--flags`, the way a shell would but without a shell: quotes
 * group words (Slack turns typed quotes into curly ones, so both kinds count), nothing is ever evaluated.
 */

export interface Argv {
  positionals: string[];
  flags: Record<string, string | true>;
}

const QUOTES: Record<string, string> = { '"': '"', "'": "'", '\u201c': '\u201d', '\u2018': '\u2019' };

export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let closing: string | undefined;
  for (const ch of text) {
    if (closing) {
      if (ch === closing) closing = undefined;
      else current += ch;
    } else if (QUOTES[ch]) {
      closing = QUOTES[ch];
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (inToken) tokens.push(current);
  return tokens;
}

/**
 * `booleanFlags` names the flags that never take a value, so `--force queue` keeps `queue` a positional.
 * Other flags take the next token (`--limit 5`) or an inline value (`--limit=5`).
 */
export function parseArgv(tokens: string[], booleanFlags: readonly string[] = []): Argv {
  const argv: Argv = { positionals: [], flags: {} };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === '--') {
      argv.positionals.push(...tokens.slice(i + 1));
      break;
    }
    if (token.startsWith('--') && token.length > 2) {
      const eq = token.indexOf('=');
      const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      if (eq !== -1) argv.flags[name] = token.slice(eq + 1);
      else if (booleanFlags.includes(name)) argv.flags[name] = true;
      else {
        const next = tokens[i + 1];
        if (next !== undefined && !next.startsWith('--')) {
          argv.flags[name] = next;
          i++;
        } else argv.flags[name] = true;
      }
    } else argv.positionals.push(token);
  }
  return argv;
}

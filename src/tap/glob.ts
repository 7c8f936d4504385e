/**
 * Glob matching for user-supplied patterns (event types, publisher ids): `*` is any run of characters, `?` one
 * character, everything else literal. A two-pointer matcher, not a RegExp, so no pattern can backtrack
 * catastrophically: the work is bounded by pattern length × text length.
 */

export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starT = t;
    } else if (pc !== undefined && (pc === '?' || pc === text[t])) {
      p++;
      t++;
    } else if (starP !== -1) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

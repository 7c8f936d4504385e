/**
 * Parse with `{ reportInput: true }` so a missing key ("required") can be told from a wrong value.
 * Turns zod issues into `ConfigProblem`s: one line per problem, named by its key path in the notation
 * operators use in the file (`clusters[0].management[1]`), with a message that says what is wrong.
 */
import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { isSecretKey } from '../secrets.js';

export function keyPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    // An empty key would vanish from the path: show it quoted.
    else if (part === '') out += '[""]';
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function describeType(value: unknown, key: PropertyKey | undefined): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  // The value helps find the mistake, but not when the key holds a secret.
  if (typeof key === 'string' && isSecretKey(key)) return typeof value;
  const shown = JSON.stringify(value);
  return `${typeof value} ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}`;
}

export function problemsFromZod(error: z.ZodError, prefix = ''): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = keyPath(prefix, issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: keyPath(path, [key]), message: 'unknown key' });
    } else if (issue.code === 'invalid_type') {
      const message =
        issue.input === undefined
          ? 'required'
          : `expected ${issue.expected}, got ${describeType(issue.input, issue.path.at(-1))}`;
      problems.push({ path, message });
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return problems;
}

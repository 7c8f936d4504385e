/**
 * `${VAR}` substitution in the parsed YAML tree, so secrets stay out of the file. It works on string values
 * after parsing (never on the raw text), so a value from the environment cannot inject YAML structure.
 * `$${` is a literal `${`.
 */
import type { ConfigProblem } from '../errors.js';
import { keyPath } from './issues.js';

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `used` collects every value taken from the environment: they are secrets more often than not, and a problem
 * report that quotes a value must not show them.
 */
export function substituteEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  problems: ConfigProblem[],
  path: PropertyKey[] = [],
  used: Set<string> = new Set(),
): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (match, name: string | undefined) => {
      if (match === '$${') return '${';
      const replacement = env[name as string];
      if (replacement === undefined) {
        problems.push({ path: keyPath('', path), message: `environment variable ${name} is not set` });
        return '';
      }
      // Too short to be a secret, and masking it would garble the message (a port, a flag).
      if (replacement.length >= 4) used.add(replacement);
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, problems, [...path, i], used));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, problems, [...path, k], used)]),
    );
  }
  return value;
}

/**
 * The one place that knows what a secret looks like. Configured passwords and tokens are registered at start-up;
 * `scrub` replaces them, URL credentials and Slack-token-shaped strings with `***`. Logs and every chat message
 * pass through it, so a secret that slips into an error message still never leaves the process.
 */

const MASK = '***';
const known = new Set<string>();

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi;
const SLACK_TOKEN = /\bxox[abprse]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+/g;
const SECRET_KEY = /pass(word)?|secret|token|cookie|authorization|credential/i;

/** Remembers a value that must never be printed. Short values are ignored: masking "a" would garble every log. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) known.add(value);
}

export function scrub(text: string): string {
  let out = text.replace(URL_CREDENTIALS, `$1:${MASK}@`).replace(SLACK_TOKEN, MASK);
  for (const secret of known) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Deep copy with secret-named keys masked and every string scrubbed. Cycles and depth are bounded. */
export function scrubDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, depth + 1, seen));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrub(value.message),
      stack: value.stack ? scrub(value.stack) : undefined,
      code: (value as { code?: unknown }).code,
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && typeof v === 'string' && v !== '' ? MASK : scrubDeep(v, depth + 1, seen);
  }
  return out;
}

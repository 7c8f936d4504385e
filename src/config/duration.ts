/**
 * Durations as operators write them in warren.yaml (`500ms`, `30s`, `15m`, `4h`, `7d`), parsed to milliseconds.
 * One notation everywhere in the file, so nobody has to guess whether a bare number means seconds or ms.
 */
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** A zod schema for a duration string, yielding milliseconds; `min` guards against intervals that would hammer a broker. */
export function duration(options: { min?: string } = {}) {
  const minMs = options.min ? (parseDuration(options.min) ?? 0) : 0;
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a duration: "${text}" (write e.g. 500ms, 30s, 15m, 4h, 7d)` });
      return z.NEVER;
    }
    if (ms < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${options.min}` });
      return z.NEVER;
    }
    return ms;
  });
}

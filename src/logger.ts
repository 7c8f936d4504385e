/**
 * JSON logs (pino). Every object and message goes through `scrubDeep`/`scrub` first, so tokens, passwords and
 * URL credentials are redacted no matter which module logged them.
 */
import { type Logger, pino } from 'pino';
import { scrub, scrubDeep } from './secrets.js';

export type { Logger };

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { app: 'warren' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => scrubDeep(object) as Record<string, unknown>,
    },
    serializers: { err: (err: unknown) => scrubDeep(err) },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>;
        method.apply(this, scrubbed);
      },
    },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/**
 * The integration suite's leak detector: every secret a test configures is watched, and every log line warren
 * writes (through the harness logger) and every request that reaches the fake Slack (messages, updates,
 * response_url answers) is scanned for them. test/support/secret-scan-setup.ts fails a test file that leaked one.
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

const watched = new Set<string>();
const leaks: string[] = [];
let scanned = 0;

/** Watches configured secrets; values too short to be told from ordinary text are left out. */
export function watchSecret(...values: Array<string | undefined>): void {
  for (const value of values) if (value && value.length >= 8) watched.add(value);
}

export function scanForSecrets(where: string, text: string): void {
  scanned++;
  for (const secret of watched) {
    if (text.includes(secret))
      leaks.push(`${where} contains a configured secret (${secret.slice(0, 3)}…): ${text.slice(0, 200)}`);
  }
}

export function secretLeaks(): { leaks: readonly string[]; scanned: number; watched: number } {
  return { leaks, scanned, watched: watched.size };
}

/**
 * A logger for warren under test that scans every line it writes, at `debug` so that the most talkative paths are
 * scanned too; with WARREN_TEST_LOG set the lines are shown on stderr as well.
 */
export function scanningLogger(onLine?: (line: string) => void): Logger {
  const show = process.env.WARREN_TEST_LOG !== undefined;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString('utf8');
      scanForSecrets('a log line', line);
      onLine?.(line);
      if (show) process.stderr.write(line);
      done();
    },
  });
  return createLogger(process.env.WARREN_TEST_LOG || 'debug', sink);
}

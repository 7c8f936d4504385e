/**
 * Asks a read command again until its answer shows what a test waits for: listings show management statistics,
 * which the broker emits every few seconds. The failure quotes the last answer.
 */
import { waitUntil } from './wait-until.js';

export async function askUntil(
  ask: (text: string) => Promise<string>,
  text: string,
  ready: (answer: string) => boolean,
  what: string,
  timeoutMs: number,
): Promise<string> {
  let last = '';
  try {
    return await waitUntil(
      async () => {
        last = await ask(text);
        return ready(last) && last;
      },
      what,
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last answer to "${text}":\n${last}`);
  }
}

/**
 * Waiting for the broker to catch up: the management API reports a change (a sync, a restart, a policy taking
 * effect) seconds after it happened, so verifications ask again until it shows or time runs out.
 */

/** Asks `probe` every `intervalMs` until it answers something or `timeoutMs` has passed (then undefined). */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 1_000,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

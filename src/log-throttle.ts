/**
 * Lets a repeated log line through at most once per interval and key, and says how many it held back meanwhile:
 * a Redis outage, a flood of malformed requests or of bad notifications must not flood the log in turn.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `log` (with the number of lines held back since the last one) when the key's interval has passed. */
  pass(key: string, log: (held: number) => void): void {
    const now = this.now();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.held++;
      return;
    }
    this.last.set(key, { at: now, held: 0 });
    log(seen?.held ?? 0);
  }
}

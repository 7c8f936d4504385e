/**
 * Acknowledges a channel's deliveries in batches: deliveries finish out of order (some wait for Redis), but the
 * broker is only told "everything up to tag N" once every delivery up to N has finished, with one `ack(allUpTo)`
 * per turn of the event loop instead of one frame per message. A delivery that must be retried is nacked on its own
 * and counts as finished for the low-water mark, but its tag is never the one acked.
 *
 * One slow delivery (an event waiting for Redis) holds back the low-water mark, and every delivery behind it stays
 * unacknowledged: were that allowed to fill the prefetch window for long, the broker would stop delivering until
 * Redis answered. So when the oldest unfinished delivery has waited `aheadAfterMs` and half the window is
 * unacknowledged, the finished deliveries behind it are acked one by one, and the batch ack later skips them like
 * the requeued ones. Not sooner: a healthy Redis answers within a few turns, and acking one by one whenever half the
 * window was waiting on it (as this did until 2026-12) cost a frame per delivery on both sides, two thirds of all
 * acks under a burst with one event in ten recorded, and made the tap slower, not faster (docs/benchmarks.md).
 */
import type { Channel, ConsumeMessage } from 'amqplib';

/** How long the oldest unfinished delivery may hold back the batch ack before the ones behind it are acked alone. */
export const ACK_AHEAD_AFTER_MS = 50;

export interface AckBatcherOptions {
  /** Default ACK_AHEAD_AFTER_MS. */
  aheadAfterMs?: number;
  now?: () => number;
}

export class AckBatcher {
  /** Deliveries received and not yet covered by a batch ack, in delivery order, and when each was received. */
  private readonly inFlight: ConsumeMessage[] = [];
  private readonly receivedAt: number[] = [];
  private readonly finished = new Set<number>();
  /** Tags the broker already considers settled (requeued, or acked one by one): never the tag of a batch ack. */
  private readonly settled = new Set<number>();
  private scheduled = false;
  private readonly ackAheadAt: number;
  private readonly aheadAfterMs: number;
  private readonly now: () => number;
  /** Set while a full-enough window waits for its oldest delivery, to look again when that one has waited enough. */
  private aheadTimer?: NodeJS.Timeout;

  /**
   * `window` is the channel's prefetch count: how many deliveries the broker lets be unacknowledged at once.
   * `onAcked` hears how many deliveries each ack sent settled (the tap's `acked` count).
   */
  constructor(
    private readonly channel: Channel,
    window = Number.POSITIVE_INFINITY,
    private readonly onAcked: (count: number) => void = () => undefined,
    options: AckBatcherOptions = {},
  ) {
    this.ackAheadAt = Math.max(1, Math.floor(window / 2));
    this.aheadAfterMs = options.aheadAfterMs ?? ACK_AHEAD_AFTER_MS;
    this.now = options.now ?? Date.now;
  }

  received(msg: ConsumeMessage): void {
    this.inFlight.push(msg);
    this.receivedAt.push(this.now());
  }

  done(msg: ConsumeMessage): void {
    this.finished.add(msg.fields.deliveryTag);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Nacks one delivery for redelivery now; later deliveries can still be acked past it. */
  requeue(msg: ConsumeMessage): void {
    try {
      this.channel.nack(msg, false, true);
    } catch {
      // Channel closed: the broker redelivers anyway.
    }
    this.settled.add(msg.fields.deliveryTag);
    this.done(msg);
  }

  private flush(): void {
    let lastAckable: ConsumeMessage | undefined;
    let ackable = 0;
    let covered = 0;
    while (
      covered < this.inFlight.length &&
      this.finished.has((this.inFlight[covered] as ConsumeMessage).fields.deliveryTag)
    ) {
      const next = this.inFlight[covered] as ConsumeMessage;
      const tag = next.fields.deliveryTag;
      covered++;
      this.finished.delete(tag);
      // A settled delivery must not be the tag acked: the broker would answer with an unknown-tag error.
      if (this.settled.delete(tag)) continue;
      lastAckable = next;
      ackable++;
    }
    if (covered > 0) {
      this.inFlight.splice(0, covered);
      this.receivedAt.splice(0, covered);
    }
    if (lastAckable) {
      try {
        // allUpTo settles every still-unacked delivery up to this tag; the settled ones below it are already settled.
        this.channel.ack(lastAckable, true);
        this.onAcked(ackable);
      } catch {
        // Channel closed: unacked deliveries are redelivered, and de-duplication by message_id absorbs them.
      }
    }
    this.aheadIfStuck();
  }

  /**
   * Acks ahead when the oldest unfinished delivery has waited `aheadAfterMs` with half the window unacknowledged;
   * when it has not waited that long yet, looks again when it will have (no delivery may arrive meanwhile to trigger
   * a flush: the window is full).
   */
  private aheadIfStuck(): void {
    // Settled deliveries still in the list are no longer unacknowledged as far as the broker is concerned.
    if (this.aheadTimer || this.inFlight.length - this.settled.size < this.ackAheadAt) return;
    const waited = this.now() - (this.receivedAt[0] as number);
    if (waited >= this.aheadAfterMs) {
      this.ackAhead();
      return;
    }
    this.aheadTimer = setTimeout(() => {
      this.aheadTimer = undefined;
      this.flush();
    }, this.aheadAfterMs - waited);
    this.aheadTimer.unref();
  }

  /** Acks, one by one, the finished deliveries waiting behind an unfinished one. */
  private ackAhead(): void {
    for (const msg of this.inFlight) {
      const tag = msg.fields.deliveryTag;
      if (!this.finished.has(tag) || this.settled.has(tag)) continue;
      try {
        this.channel.ack(msg, false);
      } catch {
        return; // Channel closed: see flush.
      }
      this.onAcked(1);
      this.settled.add(tag);
    }
  }
}

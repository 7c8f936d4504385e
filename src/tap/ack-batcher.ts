/**
 * Acknowledges a channel's deliveries in batches: deliveries finish out of order (some wait for Redis), but the
 * broker is only told "everything up to tag N" once every delivery up to N has finished, with one `ack(allUpTo)`
 * per turn of the event loop instead of one frame per message. A delivery that must be retried is nacked on its own
 * and counts as finished for the low-water mark, but its tag is never the one acked.
 *
 * One slow delivery (an event waiting for Redis) holds back the low-water mark, and every delivery behind it stays
 * unacknowledged: were that allowed to fill the prefetch window, the broker would stop delivering until Redis
 * answered. So once half the window is unacknowledged, finished deliveries behind a pending one are acked one by
 * one, and the batch ack later skips them like the requeued ones.
 */
import type { Channel, ConsumeMessage } from 'amqplib';

export class AckBatcher {
  /** Deliveries received and not yet covered by a batch ack, in delivery order. */
  private readonly inFlight: ConsumeMessage[] = [];
  private readonly finished = new Set<number>();
  /** Tags the broker already considers settled (requeued, or acked one by one): never the tag of a batch ack. */
  private readonly settled = new Set<number>();
  private scheduled = false;
  private readonly ackAheadAt: number;

  /**
   * `window` is the channel's prefetch count: how many deliveries the broker lets be unacknowledged at once.
   * `onAcked` hears how many deliveries each ack sent settled (the tap's `acked` count).
   */
  constructor(
    private readonly channel: Channel,
    window = Number.POSITIVE_INFINITY,
    private readonly onAcked: (count: number) => void = () => undefined,
  ) {
    this.ackAheadAt = Math.max(1, Math.floor(window / 2));
  }

  received(msg: ConsumeMessage): void {
    this.inFlight.push(msg);
  }

  done(msg: ConsumeMessage): void {
    this.finished.add(msg.fields.deliveryTag);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
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
    this.scheduled = false;
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
    if (covered > 0) this.inFlight.splice(0, covered);
    if (lastAckable) {
      try {
        // allUpTo settles every still-unacked delivery up to this tag; the settled ones below it are already settled.
        this.channel.ack(lastAckable, true);
        this.onAcked(ackable);
      } catch {
        // Channel closed: unacked deliveries are redelivered, and de-duplication by message_id absorbs them.
      }
    }
    // Settled deliveries still in the list are no longer unacknowledged as far as the broker is concerned.
    if (this.inFlight.length - this.settled.size >= this.ackAheadAt) this.ackAhead();
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

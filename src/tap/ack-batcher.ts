/**
 * Acknowledges a channel's deliveries in batches: deliveries finish out of order (some wait for Redis), but the
 * broker is only told "everything up to tag N" once every delivery up to N has finished, with one `ack(allUpTo)`
 * per turn of the event loop instead of one frame per message. A delivery that must be retried is nacked on its own
 * and counts as finished for the low-water mark, but its tag is never the one acked.
 */
import type { Channel, ConsumeMessage } from 'amqplib';

export class AckBatcher {
  /** Delivery tags received and not yet covered by an ack, in delivery order. */
  private readonly inFlight: ConsumeMessage[] = [];
  private readonly finished = new Set<number>();
  private readonly requeued = new Set<number>();
  private scheduled = false;

  constructor(private readonly channel: Channel) {}

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
    this.requeued.add(msg.fields.deliveryTag);
    this.done(msg);
  }

  private flush(): void {
    this.scheduled = false;
    let lastAckable: ConsumeMessage | undefined;
    while (this.inFlight.length > 0 && this.finished.has((this.inFlight[0] as ConsumeMessage).fields.deliveryTag)) {
      const next = this.inFlight.shift() as ConsumeMessage;
      const tag = next.fields.deliveryTag;
      this.finished.delete(tag);
      // A requeued delivery is already settled: acking its tag would be an unknown-tag error.
      if (this.requeued.delete(tag)) continue;
      lastAckable = next;
    }
    if (!lastAckable) return;
    try {
      // allUpTo settles every still-unacked delivery up to this tag; the requeued ones below it are already settled.
      this.channel.ack(lastAckable, true);
    } catch {
      // Channel closed: unacked deliveries are redelivered, and de-duplication by message_id absorbs them.
    }
  }
}

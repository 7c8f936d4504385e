/**
 * Owns validating a management API listing item by item: one item that fails its schema (a field that a broker
 * version reports differently, a queue caught half-way through a state change) is left out of the listing, counted
 * and logged, and the other items are still read. A whole listing failing for one item blinded every check that
 * needs it: on RabbitMQ 4.0 one queue's `online: null` once made `/rabbit health` skip seven checks.
 * ManagementClient applies this to every array answer and every page, so the sweep's fetcher and the commands share
 * it. What is logged names the listing, the item (its name, never its values) and the failing key path.
 * Must not do I/O beyond calling the sink it is given.
 */
import type { Counter } from 'prom-client';
import type { z } from 'zod';
import { LogThrottle } from '../log-throttle.js';
import type { Logger } from '../logger.js';

export interface RejectedItem {
  /** The listing, from its path: 'queues' for /api/queues/%2F, 'connections', 'nodes' … */
  part: string;
  path: string;
  /** The item's position in the answer (or its page). */
  index: number;
  /** The item's name (with its vhost when it has one), when it has a readable one. */
  item?: string;
  /** Key path of the first failing field inside the item, e.g. 'online' or 'queue.name'; '' for the item itself. */
  field: string;
  /** zod's message for that field, e.g. "Invalid input: expected array, received null": the schema's words, no value. */
  message: string;
}

/** Told of every rejected item. */
export type RejectionSink = (rejected: RejectedItem) => void;

/** The listing a path belongs to: the segment after /api/ ('queues', 'connections', 'consumers' …). */
export function listingPart(path: string): string {
  const [, api, part] = path.split('?')[0]?.split('/') ?? [];
  return api === 'api' && part ? part : 'other';
}

/** A readable name for an item: `name` (as `vhost/name` when it has a vhost), else its queue's name (consumers). */
function nameOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { name, vhost, queue } = raw as { name?: unknown; vhost?: unknown; queue?: unknown };
  if (typeof name === 'string') return typeof vhost === 'string' ? `${vhost}/${name}` : name;
  return queue === undefined ? undefined : nameOf(queue);
}

/**
 * The items of `body` that `item` accepts, parsed; each other one goes to `onRejected`. Undefined when `body` is not
 * an array at all: that is a wrong answer as a whole, for the caller to report.
 */
export function parseListing<S extends z.ZodType>(
  path: string,
  item: S,
  body: unknown,
  onRejected: RejectionSink,
): z.output<S>[] | undefined {
  if (!Array.isArray(body)) return undefined;
  const items: z.output<S>[] = [];
  body.forEach((raw: unknown, index) => {
    const parsed = item.safeParse(raw);
    if (parsed.success) {
      items.push(parsed.data);
      return;
    }
    const issue = parsed.error.issues[0];
    onRejected({
      part: listingPart(path),
      path: path.split('?')[0] ?? path,
      index,
      item: nameOf(raw),
      field: issue?.path.map(String).join('.') ?? '',
      message: issue?.message ?? 'invalid',
    });
  });
  return items;
}

/** The same item failing the same way is logged at most once in this long (every sweep would repeat it). */
const LOG_ONCE_PER_MS = 60 * 60_000;

/**
 * The sink warren runs with: counts every rejected item in `warren_management_items_rejected_total{part}` and logs
 * each (listing, item, field) once an hour at most, with the number held back since.
 */
export function rejectionReporter(options: {
  cluster: string;
  counter?: Counter<'part'>;
  logger?: Logger;
  throttle?: LogThrottle;
}): RejectionSink {
  const throttle = options.throttle ?? new LogThrottle(LOG_ONCE_PER_MS);
  return (rejected) => {
    options.counter?.inc({ part: rejected.part });
    const { logger } = options;
    if (!logger) return;
    throttle.pass(`${options.cluster}\u0000${rejected.part}\u0000${rejected.item}\u0000${rejected.field}`, (held) =>
      logger.warn(
        { cluster: options.cluster, ...rejected, ...(held > 0 ? { heldBack: held } : {}) },
        `left ${rejected.item === undefined ? `item ${rejected.index}` : `'${rejected.item}'`} out of ${rejected.path}: ` +
          `${rejected.field || '(item)'} ${rejected.message}`,
      ),
    );
  };
}

/**
 * The `tap` section: which OpenStack notification exchanges warren listens to and how events become Slack
 * messages. Defaults follow oslo.messaging: every service's control exchange, the four alerting priorities of both
 * the legacy and the versioned topic. Routes are ordered; when none are given the default routes apply.
 */
import { z } from 'zod';
import { PRIORITIES } from '../tap/notification-envelope.js';
import { duration } from './duration.js';
import { slackId } from './slack-id.js';

export const OPENSTACK_EXCHANGES = ['nova', 'neutron', 'glance', 'keystone', 'heat', 'openstack'] as const;
const DEFAULT_KEYS = ['notifications', 'versioned_notifications'].flatMap((topic) =>
  ['info', 'warn', 'error', 'critical'].map((priority) => `${topic}.${priority}`),
);
export const DEFAULT_BINDINGS = OPENSTACK_EXCHANGES.map((exchange) => ({ exchange, routingKeys: [...DEFAULT_KEYS] }));

export const GROUP_FIELDS = ['eventType', 'service', 'host', 'exchange', 'priority', 'publisher'] as const;
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;

const priority = z
  .string()
  .transform((p) => p.toUpperCase())
  .pipe(z.enum(PRIORITIES, { error: `not a priority (one of ${PRIORITIES.join(', ')})` }));
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const bindingSchema = z.strictObject({
  exchange: z.string().min(1),
  routingKeys: z.array(z.string().min(1)).min(1, 'at least one routing key (e.g. notifications.error)'),
});

export const routeSchema = z.strictObject({
  name: z.string().min(1).optional(),
  match: z
    .strictObject({
      exchange: z.array(z.string().min(1)).min(1).optional(),
      /** Glob on event_type: `*` matches any run of characters, e.g. `compute.instance.*.error`. */
      eventType: z.string().min(1).max(200).optional(),
      priority: z.array(priority).min(1).optional(),
      /** Glob on publisher_id, e.g. `nova-compute:*`. */
      publisher: z.string().min(1).max(200).optional(),
      /** Dotted payload paths that must equal the given value, e.g. `nova_object.data.forced_down: true`. */
      payload: z.record(z.string().min(1), scalar).optional(),
    })
    .prefault({}),
  channel: slackId.optional(),
  severity: z.enum(SEVERITIES).optional(),
  /** Message title; `{eventType}`, `{service}`, `{host}`, `{exchange}`, `{priority}` are filled in. */
  template: z.string().min(1).max(300).optional(),
  drop: z.boolean().default(false),
  continue: z.boolean().default(false),
  groupBy: z.array(z.enum(GROUP_FIELDS)).min(1).optional(),
});

export const tapSchema = z.strictObject({
  enabled: z.boolean().default(true),
  mode: z.enum(['exclusive', 'durable']).default('exclusive'),
  bindings: z.array(bindingSchema).default(DEFAULT_BINDINGS),
  declareExchanges: z.boolean().default(false),
  exchangeDurable: z.boolean().default(false),
  exchangeRetry: duration({ min: '100ms' }).prefault('30s'),
  prefetch: z.number().int().min(1).max(10_000).default(200),
  heartbeat: duration({ min: '1s' }).prefault('30s'),
  maxBodyBytes: z.number().int().min(1024).default(1_048_576),
  durableQueue: z
    .strictObject({
      expires: duration({ min: '1m' }).prefault('7d'),
      maxLength: z.number().int().min(1).default(100_000),
    })
    .prefault({}),
  routes: z.array(routeSchema).optional(),
  groupWindow: duration({ min: '100ms' }).prefault('5m'),
  groupBy: z.array(z.enum(GROUP_FIELDS)).min(1).default(['eventType', 'service', 'host']),
  /** How often a grouped message is edited at most, so a burst does not exhaust Slack's rate limit. */
  updateInterval: duration({ min: '100ms' }).prefault('2s'),
  maxSamples: z.number().int().min(0).max(50).default(5),
  dedupTtl: duration({ min: '1s' }).prefault('1h'),
});

export type TapConfig = z.infer<typeof tapSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type BindingConfig = z.infer<typeof bindingSchema>;

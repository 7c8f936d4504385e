/**
 * The `tap` section: which OpenStack notification exchanges warren listens to and how events become Slack
 * messages. Defaults follow oslo.messaging: every service's control exchange, the four alerting priorities of both
 * the legacy and the versioned topic. Routes are ordered; when none are given the default routes apply.
 *
 * Bindings may name a vhost; `tap.vhostPerService` writes the bindings for deployments that give each service a
 * vhost of its own (openstack-ansible's `/nova`, `/neutron`, …). Both are turned into plain bindings here, so the tap
 * only ever sees `bindings`.
 */
import { z } from 'zod';
import { PRIORITIES } from '../tap/notification-envelope.js';
import { duration } from './duration.js';
import { slackId } from './slack-id.js';

export const OPENSTACK_EXCHANGES = ['nova', 'neutron', 'glance', 'keystone', 'heat', 'openstack'] as const;
const DEFAULT_KEYS = ['notifications', 'versioned_notifications'].flatMap((topic) =>
  ['info', 'warn', 'error', 'critical'].map((priority) => `${topic}.${priority}`),
);
export const DEFAULT_BINDINGS: BindingConfig[] = OPENSTACK_EXCHANGES.map((exchange) => ({
  exchange,
  routingKeys: [...DEFAULT_KEYS],
}));

/**
 * Each service's oslo control exchange: its own name, except cinder, which keeps oslo's default `openstack`
 * (ceilometer's `cinder_control_exchange` says the same).
 */
export const SERVICE_EXCHANGES = {
  nova: 'nova',
  neutron: 'neutron',
  cinder: 'openstack',
  glance: 'glance',
  keystone: 'keystone',
  heat: 'heat',
  octavia: 'octavia',
  ironic: 'ironic',
  magnum: 'magnum',
} as const;
export type OpenStackService = keyof typeof SERVICE_EXCHANGES;
const SERVICES = Object.keys(SERVICE_EXCHANGES) as [OpenStackService, ...OpenStackService[]];
/** The services `vhostPerService: true` covers: the ones whose exchanges the default bindings cover. */
export const DEFAULT_SERVICES: OpenStackService[] = ['nova', 'neutron', 'cinder', 'glance', 'keystone', 'heat'];

export const GROUP_FIELDS = ['eventType', 'service', 'host', 'exchange', 'vhost', 'priority', 'publisher'] as const;
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;

const priority = z
  .string()
  .transform((p) => p.toUpperCase())
  .pipe(z.enum(PRIORITIES, { error: `not a priority (one of ${PRIORITIES.join(', ')})` }));
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const bindingSchema = z.strictObject({
  exchange: z.string().min(1),
  /** The vhost as RabbitMQ names it (`/nova`); unset: the vhost of the cluster's AMQP URLs. */
  vhost: z.string().min(1).max(255).optional(),
  routingKeys: z.array(z.string().min(1)).min(1, 'at least one routing key (e.g. notifications.error)'),
});

export const routeSchema = z.strictObject({
  name: z.string().min(1).optional(),
  match: z
    .strictObject({
      exchange: z.array(z.string().min(1)).min(1).optional(),
      /** The vhosts the notification may come from, as RabbitMQ names them (`/neutron`). */
      vhost: z.array(z.string().min(1)).min(1).optional(),
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
  /** Message title; `{eventType}`, `{service}`, `{host}`, `{exchange}`, `{vhost}`, `{priority}` are filled in. */
  template: z.string().min(1).max(300).optional(),
  drop: z.boolean().default(false),
  continue: z.boolean().default(false),
  groupBy: z.array(z.enum(GROUP_FIELDS)).min(1).optional(),
});

const VHOST_PER_SERVICE_FORMS = 'true, or {services: [nova, …], vhost: "/{service}"}';
const vhostPerServiceSchema = z.preprocess(
  (value, ctx) => {
    if (value === true) return {};
    if (value === false || value === null || value === undefined) return undefined;
    if (typeof value === 'object' && !Array.isArray(value)) return value;
    ctx.addIssue({ code: 'custom', message: VHOST_PER_SERVICE_FORMS, input: value });
    return undefined;
  },
  z
    .strictObject(
      {
        services: z
          .array(z.enum(SERVICES, { error: `not a service warren knows (one of ${SERVICES.join(', ')})` }))
          .min(1)
          .default(DEFAULT_SERVICES),
        /** `{service}` is replaced by the service's name. */
        vhost: z
          .string()
          .min(1)
          .max(255)
          .refine((v) => v.includes('{service}'), 'must contain {service}, e.g. /{service}')
          .default('/{service}'),
      },
      { error: VHOST_PER_SERVICE_FORMS },
    )
    .optional(),
);
export type VhostPerService = NonNullable<z.infer<typeof vhostPerServiceSchema>>;

/** The bindings `tap.vhostPerService` stands for: each service's exchange in its own vhost, the default keys. */
export function perServiceBindings(perService: VhostPerService): BindingConfig[] {
  return [...new Set(perService.services)].map((service) => ({
    exchange: SERVICE_EXCHANGES[service],
    vhost: perService.vhost.replaceAll('{service}', service),
    routingKeys: [...DEFAULT_KEYS],
  }));
}

const tapObject = z.strictObject({
  enabled: z.boolean().default(true),
  mode: z.enum(['exclusive', 'durable']).default('exclusive'),
  /** Unset: DEFAULT_BINDINGS in the AMQP URLs' vhost, or the bindings `vhostPerService` stands for. */
  bindings: z.array(bindingSchema).optional(),
  vhostPerService: vhostPerServiceSchema,
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

export const tapSchema = tapObject
  .superRefine((tap, ctx) => {
    if (tap.bindings !== undefined && tap.vhostPerService !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['vhostPerService'],
        message: 'set tap.bindings or tap.vhostPerService, not both (vhostPerService writes the bindings)',
      });
    }
  })
  .transform(({ bindings, ...tap }) => ({
    ...tap,
    bindings: bindings ?? (tap.vhostPerService ? perServiceBindings(tap.vhostPerService) : DEFAULT_BINDINGS),
  }));

export type TapConfig = z.infer<typeof tapSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type BindingConfig = z.infer<typeof bindingSchema>;

/**
 * Decides where a decoded notification goes: the ordered `tap.routes` (or the defaults) are matched against
 * exchange, event type, priority, publisher and payload fields; the first match wins unless it says `continue`.
 * A route whose channel is limited to some vhosts (access.vhostScopes) does not match a notification from another
 * vhost: the neutron team's channel gets no nova notification through a catch-all route, and the notification goes
 * on to the next route instead. Pure: no I/O. A notification no rule posts is counted by the caller, not lost.
 */
import type { GROUP_FIELDS, RouteConfig, SEVERITIES } from '../config/tap-schema.js';
import { globMatch } from './glob.js';
import type { OsloNotification, Priority } from './notification-envelope.js';
import type { NotificationFacts } from './notification-facts.js';

export type GroupField = (typeof GROUP_FIELDS)[number];
export type Severity = (typeof SEVERITIES)[number];

export interface TapEvent {
  cluster: string;
  /** The vhost the notification was published in; unset where only one is known (tests, tools). */
  vhost?: string;
  exchange: string;
  routingKey: string;
  notification: OsloNotification;
  facts: NotificationFacts;
}

export interface RouteDecision {
  route: string;
  channel: string;
  severity: Severity;
  title: string;
  groupBy: readonly GroupField[];
}

export type RouteOutcome =
  | { kind: 'post'; decisions: RouteDecision[] }
  | { kind: 'drop'; route: string }
  | { kind: 'unrouted' }
  /** A rule matched but neither it nor `slack.alertChannel` names a channel. */
  | { kind: 'no_channel'; route: string };

/**
 * What operators want by default: errors and criticals posted, warnings grouped coarser, and of the INFO stream
 * only the service updates that mean a compute service was disabled or forced down.
 */
export const DEFAULT_ROUTES: RouteConfig[] = [
  { name: 'errors', match: { priority: ['ERROR', 'CRITICAL'] }, drop: false, continue: false },
  { name: 'warnings', match: { priority: ['WARN'] }, groupBy: ['eventType', 'service'], drop: false, continue: false },
  {
    name: 'service-forced-down',
    match: { eventType: 'service.update', payload: { 'nova_object.data.forced_down': true } },
    severity: 'warning',
    template: 'Service {service} on {host} forced down',
    drop: false,
    continue: false,
  },
  {
    name: 'service-disabled',
    match: { eventType: 'service.update', payload: { 'nova_object.data.disabled': true } },
    severity: 'warning',
    template: 'Service {service} on {host} disabled',
    drop: false,
    continue: false,
  },
];

const SEVERITY_BY_PRIORITY: Partial<Record<Priority, Severity>> = {
  CRITICAL: 'critical',
  ERROR: 'error',
  WARN: 'warning',
};

export function groupFieldValue(event: TapEvent, field: GroupField): string {
  switch (field) {
    case 'eventType':
      return event.notification.eventType;
    case 'service':
      return event.facts.service ?? '';
    case 'host':
      return event.facts.host ?? '';
    case 'exchange':
      return event.exchange;
    case 'vhost':
      return event.vhost ?? '';
    case 'priority':
      return event.notification.priority;
    case 'publisher':
      return event.notification.publisherId;
  }
}

function payloadValue(payload: unknown, path: string): unknown {
  let value: unknown = payload;
  // Keys may themselves contain dots (nova's `nova_object.data`), so try the longest key first at each level.
  const parts = path.split('.');
  let i = 0;
  while (i < parts.length) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const record = value as Record<string, unknown>;
    let found = false;
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join('.');
      if (Object.hasOwn(record, key)) {
        value = record[key];
        i = j;
        found = true;
        break;
      }
    }
    if (!found) return undefined;
  }
  return value;
}

function matches(route: RouteConfig, event: TapEvent): boolean {
  const { match } = route;
  const n = event.notification;
  if (match.exchange && !match.exchange.includes(event.exchange)) return false;
  if (match.vhost && !match.vhost.includes(event.vhost ?? '')) return false;
  if (match.eventType && !globMatch(match.eventType, n.eventType)) return false;
  if (match.priority && !match.priority.includes(n.priority)) return false;
  if (match.publisher && !globMatch(match.publisher, n.publisherId)) return false;
  if (match.payload) {
    for (const [path, expected] of Object.entries(match.payload)) {
      if (payloadValue(n.payload, path) !== expected) return false;
    }
  }
  return true;
}

function fillTemplate(template: string, event: TapEvent): string {
  return template.replace(
    /\{(eventType|service|host|exchange|vhost|priority|publisher)\}/g,
    (_m, field: GroupField) => {
      return groupFieldValue(event, field) || '?';
    },
  );
}

export interface RouterOptions {
  routes?: RouteConfig[];
  alertChannel?: string;
  groupBy: readonly GroupField[];
  /** Whether a channel may see notifications from a vhost (access.vhostScopes); unset: every channel sees all. */
  channelSees?: (channel: string, vhost: string) => boolean;
}

export class NotificationRouter {
  private readonly routes: RouteConfig[];

  constructor(private readonly options: RouterOptions) {
    this.routes = options.routes ?? DEFAULT_ROUTES;
  }

  route(event: TapEvent): RouteOutcome {
    const decisions: RouteDecision[] = [];
    for (const [index, route] of this.routes.entries()) {
      if (!matches(route, event)) continue;
      const name = route.name ?? `routes[${index}]`;
      const channel = route.channel ?? this.options.alertChannel;
      if (
        !route.drop &&
        channel &&
        event.vhost !== undefined &&
        this.options.channelSees?.(channel, event.vhost) === false
      ) {
        continue;
      }
      if (route.drop) return decisions.length > 0 ? { kind: 'post', decisions } : { kind: 'drop', route: name };
      if (!channel) return decisions.length > 0 ? { kind: 'post', decisions } : { kind: 'no_channel', route: name };
      const n = event.notification;
      decisions.push({
        route: name,
        channel,
        severity: route.severity ?? SEVERITY_BY_PRIORITY[n.priority] ?? 'info',
        title: fillTemplate(route.template ?? '{eventType} from {service} on {host}', event),
        groupBy: route.groupBy ?? this.options.groupBy,
      });
      if (!route.continue) break;
    }
    return decisions.length > 0 ? { kind: 'post', decisions } : { kind: 'unrouted' };
  }
}

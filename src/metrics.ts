/**
 * warren's Prometheus registry: process metrics plus warren's own counters. Features add their metrics here so
 * `/metrics` is one registry, not one per module.
 */
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

export interface WarrenMetrics {
  registry: Registry;
  commands: Counter<'command' | 'outcome'>;
  actions: Counter<'action' | 'outcome'>;
  /** Items of a management API listing left out because they failed validation (src/management/listing.ts). */
  itemsRejected: Counter<'part'>;
}

export function createMetrics(): WarrenMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'warren_' });
  const commands = new Counter({
    name: 'warren_commands_total',
    help: 'Slash commands handled, by command and outcome (ok, usage, denied, unknown, error).',
    labelNames: ['command', 'outcome'] as const,
    registers: [registry],
  });
  const actions = new Counter({
    name: 'warren_actions_total',
    help: 'Button clicks handled, by action and outcome (ok, denied, refused, unknown, error).',
    labelNames: ['action', 'outcome'] as const,
    registers: [registry],
  });
  const itemsRejected = new Counter({
    name: 'warren_management_items_rejected_total',
    help: 'Items of a management API listing left out because they failed validation, by listing (queues, nodes…).',
    labelNames: ['part'] as const,
    registers: [registry],
  });
  return { registry, commands, actions, itemsRejected };
}

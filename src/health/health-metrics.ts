/** The health checks' Prometheus metrics, registered in warren's one registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CheckResult } from './check-run.js';

export interface HealthMetrics {
  sweeps: Counter<'cluster' | 'outcome'>;
  sweepSeconds: Histogram<'cluster'>;
  findings: Gauge<'cluster' | 'check' | 'severity'>;
  skipped: Counter<'cluster' | 'check'>;
  outcomes: Counter<'cluster' | 'check' | 'outcome'>;
  managementErrors: Counter<'cluster' | 'part'>;
  slack: Counter<'action'>;
  setFindings(cluster: string, results: CheckResult[]): void;
}

export function createHealthMetrics(registry: Registry): HealthMetrics {
  const registers = [registry];
  const findings = new Gauge({
    name: 'warren_health_findings',
    help: 'Findings of the last sweep, by cluster, check and severity (firing or not yet).',
    labelNames: ['cluster', 'check', 'severity'] as const,
    registers,
  });
  return {
    sweeps: new Counter({
      name: 'warren_health_sweeps_total',
      help: 'Health sweeps run, by cluster and outcome (ok, error).',
      labelNames: ['cluster', 'outcome'] as const,
      registers,
    }),
    sweepSeconds: new Histogram({
      name: 'warren_health_sweep_seconds',
      help: 'Duration of one health sweep (fetch, checks, alert state, Slack).',
      labelNames: ['cluster'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    findings,
    skipped: new Counter({
      name: 'warren_health_checks_skipped_total',
      help: 'Checks skipped because the data they need could not be read, by cluster and check.',
      labelNames: ['cluster', 'check'] as const,
      registers,
    }),
    outcomes: new Counter({
      name: 'warren_health_check_outcomes_total',
      help:
        'Check evaluations by cluster, check and outcome: passed, found (findings), not_applicable (the check has ' +
        'no meaning on this RabbitMQ version), could_not_run (data missing or the check failed).',
      labelNames: ['cluster', 'check', 'outcome'] as const,
      registers,
    }),
    managementErrors: new Counter({
      name: 'warren_health_management_errors_total',
      help: 'Management API failures during sweeps, by cluster and snapshot part (nodes, queues, …).',
      labelNames: ['cluster', 'part'] as const,
      registers,
    }),
    slack: new Counter({
      name: 'warren_health_slack_calls_total',
      help: 'Slack calls for health alerts, by action (post, update, reply, error).',
      labelNames: ['action'] as const,
      registers,
    }),
    setFindings(cluster, results) {
      for (const result of results) {
        if (!result.findings) continue;
        for (const severity of ['critical', 'warning', 'info'] as const) {
          findings.set(
            { cluster, check: result.check.id, severity },
            result.findings.filter((f) => f.severity === severity).length,
          );
        }
      }
    },
  };
}

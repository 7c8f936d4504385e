import { defineConfig } from 'vitest/config';

/**
 * Integration files that also run against RabbitMQ 4.0 (project `integration-4.0`): every file whose outcome depends
 * on what the broker answers or does. The rest (Slack, Redis, the HTTP front end, the run store, packaging) never
 * reads a broker answer that differs between versions, so a second run would cost minutes and prove nothing new;
 * docs/compatibility.md lists both sets. A file that runs here but has a 3.10-only test says so with `skipIf`.
 * The demo's unattended loops (demo-smoke) are left out: on 4.0 they take about 10 minutes, and every fault they
 * drive produce their alerts and Fix… on 4.0 in the check, workflow and remediation files. demo/faults passes on 4.0
 * alone, but after the oslo 16 files its classic stand-in servers meet a durable `openstack` exchange (406).
 */
export const ON_RABBITMQ_4_0 = [
  'test/commands/read-commands.int.test.ts',
  'test/commands/peek.int.test.ts',
  'test/devstack/local-stack.int.test.ts',
  'test/health/alert-lifecycle.int.test.ts',
  'test/health/check-conditions.int.test.ts',
  'test/health/check-faults.int.test.ts',
  'test/health/slack-outage.int.test.ts',
  'test/health/snapshot-fetcher.int.test.ts',
  'test/health/stop-order.int.test.ts',
  'test/management/management-client.int.test.ts',
  'test/rabbitmq-4.0/**/*.int.test.ts',
  'test/remediation/remediation-flow.int.test.ts',
  'test/tap/notification-tap.int.test.ts',
  'test/tap/tap-node-kill.int.test.ts',
  'test/workflows/*.int.test.ts',
];

const integration = {
  globalSetup: ['test/global-setup.ts'],
  setupFiles: ['test/support/secret-scan-setup.ts'],
  fileParallelism: false,
  testTimeout: 60_000,
  hookTimeout: 240_000,
};

// Three projects: `unit` needs no services; `integration` (files named *.int.test.ts) runs against the real local
// stack (3 RabbitMQ nodes + Redis) that test/global-setup.ts starts once, one file at a time, on the series
// WARREN_TEST_RABBITMQ names (3.10 by default); `integration-4.0` runs ON_RABBITMQ_4_0 against a RabbitMQ 4.0 stack,
// after the others (groupOrder), so the two clusters never compete for the machine's two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          exclude: ['test/rabbitmq-4.0/**', 'node_modules/**'],
          ...integration,
          sequence: { groupOrder: 0 },
        },
      },
      // With WARREN_TEST_RABBITMQ=4.0 the `integration` project already runs everything on 4.0.
      ...(process.env.WARREN_TEST_RABBITMQ === '4.0'
        ? []
        : [
            {
              test: {
                name: 'integration-4.0',
                include: ON_RABBITMQ_4_0,
                ...integration,
                sequence: { groupOrder: 1 },
              },
            },
          ]),
    ],
  },
});

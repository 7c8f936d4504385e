/**
 * Secret masking for anything warren prints about its configuration or connections. Passwords, tokens and
 * URL credentials become `***`; what remains is safe to show in a terminal, a log or Slack.
 */
import type { WarrenConfig } from './schema.js';

const MASK = '***';

/** `amqp://user:secret@host` → `amqp://user:***@host`; non-URLs come back unchanged. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = MASK;
    return parsed.toString().replace('%2A%2A%2A', MASK);
  } catch {
    return url;
  }
}

/** The effective config as a plain object, secrets masked, for `warren check-config`. */
export function maskedConfig(config: WarrenConfig): Record<string, unknown> {
  const secret = (value: string | undefined) => (value ? MASK : undefined);
  return {
    file: config.file ?? null,
    clusters: config.clusters.map((c) => ({
      ...c,
      amqp: c.amqp.map(maskUrl),
      managementPassword: secret(c.managementPassword),
    })),
    slack: {
      ...config.slack,
      botToken: secret(config.slack.botToken),
      signingSecret: secret(config.slack.signingSecret),
      appToken: secret(config.slack.appToken),
    },
    access: config.access,
    tap: config.tap,
    health: config.health,
    remediation: config.remediation,
    redisUrl: maskUrl(config.redisUrl),
    port: config.port,
    logLevel: config.logLevel,
  };
}

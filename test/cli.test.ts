import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-cli-'));

// Each test starts the real CLI (node with the TypeScript loader), which takes seconds on a loaded two-core
// machine: the unit project's 5 s default timed these out while a CI run shared the machine.
describe('warren check-config', { timeout: 30_000 }, () => {
  it('exits 2 with one line per problem, naming the key path, and never prints the secret', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `clusters:\n  - name: prod\n    amqp: ["amqp://nova:\${PW}@10.0.0.1"]\n    management: [http://10.0.0.1:15672, "nope"]\n    managment: []\n`,
    );
    const run = runCli(['check-config', file], { PW: 'cli-secret-pw' });
    expect(await run.exit()).toBe(2);
    expect(run.stderr()).toBe(
      [
        'warren: invalid configuration (2 problem(s)):',
        '  clusters[0].management[1]: not a URL (http://host:port or https://…)',
        '  clusters[0].managment: unknown key',
        '',
      ].join('\n'),
    );
  });

  it('prints the effective config with secrets masked', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(
      file,
      `clusters:\n  - name: prod\n    amqp: ["amqp://nova:\${PW}@10.0.0.1"]\n    management: [http://10.0.0.1:15672]\nslack:\n  alertChannel: C0ALERTS\n`,
    );
    const run = runCli(['check-config', file], {
      PW: 'cli-secret-pw',
      SLACK_BOT_TOKEN: 'xoxb-1-2-3',
      SLACK_SIGNING_SECRET: 'sig-secret',
    });
    expect(await run.exit()).toBe(0);
    const out = run.stdout();
    expect(out).toContain(`configuration OK (${file})`);
    expect(out).toContain('amqp://nova:***@10.0.0.1');
    expect(out).toContain('managementPassword: "***"');
    expect(out).toContain('mode: http');
    for (const secret of ['cli-secret-pw', 'xoxb-1-2-3', 'sig-secret']) expect(out).not.toContain(secret);
  });

  it('prints usage and exits 64 on an unknown subcommand', async () => {
    const run = runCli(['frobnicate'], {});
    expect(await run.exit()).toBe(64);
    expect(run.stderr()).toContain('usage: warren start');
  });
});

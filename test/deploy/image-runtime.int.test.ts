/**
 * What the Dockerfile's runtime stage holds, run for real without Docker: the production dependencies alone
 * (`npm ci --omit=dev`), the TypeScript build, started as an unprivileged user against the real cluster and Redis,
 * in HTTP mode with a fake Slack; the image's own HEALTHCHECK command must then pass. This catches a runtime import
 * of a dev dependency, a build that does not run, and a start that needs root.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { allocatePorts } from '../../src/devstack/index.js';
import { FakeSlack } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import { harnessKeys } from '../support/warren-harness.js';

const root = resolve(import.meta.dirname, '..', '..');
const NOBODY = 65534;

/** The HEALTHCHECK's command, as the Dockerfile writes it in exec form. */
function healthcheckArgv(): string[] {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const line = dockerfile.split('\n').find((l) => l.startsWith('HEALTHCHECK ')) ?? '';
  return JSON.parse(line.slice(line.indexOf('CMD ') + 4)) as string[];
}

describe('the image runtime (production dependencies, built code, non-root)', () => {
  const desc = inject('stack');
  let dir: string;
  let fake: FakeSlack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-image-'));
    chmodSync(dir, 0o755);
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(root, file), join(dir, file));
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: dir,
      stdio: 'pipe',
    });
    execFileSync(
      join(root, 'node_modules', '.bin', 'tsc'),
      ['-p', join(root, 'tsconfig.json'), '--outDir', join(dir, 'dist')],
      {
        stdio: 'pipe',
      },
    );
    fake = await FakeSlack.start();
  }, 240_000);

  afterAll(async () => {
    await fake?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts as nobody, answers /healthz, and passes the HEALTHCHECK', async () => {
    const [port] = (await allocatePorts(1)) as [number];
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      PORT: String(port),
      REDIS_URL: desc.redisUrl,
      REDIS_KEY_PREFIX: harnessKeys('deploy-image-runtime'),
      RABBITMQ_URL: desc.nodes.map((n) => n.amqpUrl).join(','),
      RABBITMQ_MANAGEMENT_URL: desc.nodes
        .map((n) => n.managementUrl.replace('://', `://${desc.username}:${desc.password}@`))
        .join(','),
      SLACK_BOT_TOKEN: 'xoxb-1-image-test',
      SLACK_SIGNING_SECRET: 'image-test-secret',
      SLACK_API_URL: fake.apiUrl,
      LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, ['dist/src/cli.js', 'start'], {
      cwd: dir,
      env,
      uid: NOBODY,
      gid: NOBODY,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await waitUntil(
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok,
        `/healthz on the built warren (output so far: ${output.slice(-500)})`,
        60_000,
      );
      const [command, ...args] = healthcheckArgv();
      expect(command).toBe('node');
      const status = await new Promise<number | null>((done) => {
        spawn(process.execPath, args, { env, uid: NOBODY, gid: NOBODY, stdio: 'ignore' }).once('exit', done);
      });
      expect(status).toBe(0);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await new Promise((done) => (child.exitCode === null ? child.once('exit', done) : done(undefined)));
    }
    expect(output).not.toContain(desc.password);
  }, 120_000);
});

/**
 * Starts the real local stack (3-node RabbitMQ cluster + Redis) once for an integration project and hands its
 * description to the tests through `inject('stack')`. The project `integration` runs the series WARREN_TEST_RABBITMQ
 * names (3.10 by default); `integration-4.0` always runs RabbitMQ 4.0 (see vitest.config.ts for which files). With
 * WARREN_TEST_REUSE=1 a stack left running by an earlier run is reused (and left running), which makes local
 * iteration fast; CI always starts a fresh one.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  attachLocalStack,
  type LocalStack,
  type LocalStackDescription,
  type RabbitmqSeries,
  seriesFromEnv,
  startLocalStack,
} from '../src/devstack/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: LocalStackDescription;
  }
}

const stateFile = (series: RabbitmqSeries): string =>
  resolve(import.meta.dirname, '..', '.warren-stack', `stack-${series}.json`);

/** The project's broker: `integration-<series>` names it, plain `integration` takes WARREN_TEST_RABBITMQ. */
export function projectSeries(projectName: string): RabbitmqSeries {
  const suffix = /^integration-(.+)$/.exec(projectName)?.[1];
  return seriesFromEnv(suffix);
}

async function reusable(series: RabbitmqSeries): Promise<LocalStack | undefined> {
  const file = stateFile(series);
  if (!existsSync(file)) return undefined;
  try {
    const desc = JSON.parse(readFileSync(file, 'utf8')) as LocalStackDescription;
    if (desc.rabbitmq?.series !== series) throw new Error('another series');
    const response = await fetch(`${desc.nodes[0]?.managementUrl}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from(`${desc.username}:${desc.password}`).toString('base64')}` },
    });
    if (response.ok) return attachLocalStack(desc);
  } catch {
    // Stale state file: fall through and start a fresh stack.
  }
  rmSync(file, { force: true });
  return undefined;
}

export default async function setup(project: TestProject) {
  const series = projectSeries(project.name);
  const reuse = process.env.WARREN_TEST_REUSE === '1';
  let stack = reuse ? await reusable(series) : undefined;
  if (!stack) {
    const started = Date.now();
    stack = await startLocalStack({
      rabbitmq: series,
      log: (line) => process.stderr.write(`[devstack ${series}] ${line}\n`),
      keepAfterExit: reuse,
    });
    process.stderr.write(`[devstack ${series}] local stack up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (reuse) {
      mkdirSync(resolve(stateFile(series), '..'), { recursive: true });
      writeFileSync(stateFile(series), JSON.stringify(stack.describe()), { mode: 0o600 });
    }
  }
  project.provide('stack', stack.describe());
  return async () => {
    if (!reuse) await stack.stop();
  };
}

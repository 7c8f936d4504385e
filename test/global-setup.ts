/**
 * Starts the real local stack (3-node RabbitMQ cluster + Redis) once for the integration project and hands its
 * description to the tests through `inject('stack')`. With WARREN_TEST_REUSE=1 a stack left running by an earlier
 * run is reused (and left running), which makes local iteration fast; CI always starts a fresh one.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  attachLocalStack,
  type LocalStack,
  type LocalStackDescription,
  startLocalStack,
} from '../src/devstack/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: LocalStackDescription;
  }
}

const STATE_FILE = resolve(import.meta.dirname, '..', '.warren-stack', 'stack.json');

async function reusable(): Promise<LocalStack | undefined> {
  if (!existsSync(STATE_FILE)) return undefined;
  try {
    const desc = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as LocalStackDescription;
    const response = await fetch(`${desc.nodes[0]?.managementUrl}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from(`${desc.username}:${desc.password}`).toString('base64')}` },
    });
    if (response.ok) return attachLocalStack(desc);
  } catch {
    // Stale state file: fall through and start a fresh stack.
  }
  rmSync(STATE_FILE, { force: true });
  return undefined;
}

export default async function setup(project: TestProject) {
  const reuse = process.env.WARREN_TEST_REUSE === '1';
  let stack = reuse ? await reusable() : undefined;
  if (!stack) {
    const started = Date.now();
    stack = await startLocalStack({
      log: (line) => process.stderr.write(`[devstack] ${line}\n`),
      keepAfterExit: reuse,
    });
    process.stderr.write(`[devstack] local stack up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (reuse) {
      mkdirSync(resolve(STATE_FILE, '..'), { recursive: true });
      writeFileSync(STATE_FILE, JSON.stringify(stack.describe()), { mode: 0o600 });
    }
  }
  project.provide('stack', stack.describe());
  return async () => {
    if (!reuse) await stack.stop();
  };
}

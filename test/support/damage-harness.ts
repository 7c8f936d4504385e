/**
 * The start of a test file that damages the shared cluster on purpose (stops, kills, partitions nodes): the cluster
 * made whole first, a fresh Redis DB, a fake Slack and warren on them. Each such file ends by restoring the cluster
 * itself, since what it restores depends on the damage it did.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachLocalStack, type LocalStack, type LocalStackDescription } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster } from './cluster-health.js';
import { FakeSlack } from './fake-slack.js';
import { flushHarnessRedis, startHarnessWarren } from './warren-harness.js';

export interface DamageHarness {
  stack: LocalStack;
  fake: FakeSlack;
  warren: Warren;
}

/** `yaml` defines the clusters itself (stackClusterYaml), so that node control is configured. */
export async function onWholeCluster(
  desc: LocalStackDescription,
  yaml: string,
  keyPrefix: string,
  onLogLine?: (line: string) => void,
): Promise<DamageHarness> {
  const stack = attachLocalStack(desc);
  await restoreCluster(desc, stack);
  await flushHarnessRedis(desc, keyPrefix);
  const fake = await FakeSlack.start();
  const warren = await startHarnessWarren({
    stack: desc,
    fake,
    yaml,
    keyPrefix,
    clustersInYaml: true,
    ...(onLogLine ? { onLogLine } : {}),
  });
  return { stack, fake, warren };
}

/**
 * The stack's description in a file of its own, readable by root only (it holds the admin password), for the
 * devstack's stand-in host commands (stackClusterYaml's `serviceDescription`); `remove` deletes it.
 */
export function stackDescriptionFile(desc: LocalStackDescription): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'warren-service-'));
  const path = join(dir, 'stack.json');
  writeFileSync(path, JSON.stringify(desc), { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

import { describe, expect, it } from 'vitest';
import { allCommands } from '../../commands/index.js';
import type { ChatReply } from '../../src/chat/chat-message.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';

// Port 9 (discard) on loopback refuses connections at once: a management API that is down.
const clusters = new ClusterDirectory(
  [
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'router-test-secret',
      vhost: '/',
    },
  ],
  { managementTimeoutMs: 2000 },
);

function router(channels: string[] = []) {
  const metrics = createMetrics();
  const r = new CommandRouter({
    commands: allCommands,
    clusters,
    access: new AccessPolicy({ readers: [], operators: [], approvers: [], channels }),
    slashCommand: '/rabbit',
    logger: createLogger('silent'),
    metrics,
  });
  return { r, metrics };
}

async function ask(text: string, channels: string[] = []): Promise<ChatReply> {
  return router(channels).r.reply({ userId: 'U1', channelId: 'C1', text, respond: async () => undefined });
}

describe('CommandRouter', () => {
  it('answers an empty command with help listing every definition', async () => {
    const reply = await ask('');
    expect(reply.visibility).toBe('ephemeral');
    for (const c of allCommands) expect(reply.text).toContain(`/rabbit ${c.name}`);
  });

  it('refuses an unknown command ephemerally and points to help', async () => {
    expect(await ask('frobnicate')).toEqual({
      visibility: 'ephemeral',
      text: 'Unknown command `frobnicate`. Try `/rabbit help` for the list of commands.',
    });
  });

  it('answers bad arguments with the reason and the usage line', async () => {
    expect(await ask('status a b')).toEqual({
      visibility: 'ephemeral',
      text: 'status takes at most one cluster name\nUsage: `/rabbit status [cluster]`',
    });
    expect((await ask('status --verbose')).text).toBe('status takes no flags\nUsage: `/rabbit status [cluster]`');
  });

  it('names the known clusters when the cluster is unknown', async () => {
    expect((await ask('status staging')).text).toBe(
      'unknown cluster "staging"; known clusters: prod\nUsage: `/rabbit status [cluster]`',
    );
  });

  it('refuses commands in a channel that is not allowed', async () => {
    expect((await ask('status', ['C2OPS'])).text).toBe(
      'Not allowed: warren takes commands only in <#C2OPS>, not in this channel.',
    );
  });

  it('reports an unreachable cluster without leaking its credentials, and counts outcomes', async () => {
    const { r, metrics } = router();
    const reply = await r.reply({ userId: 'U1', channelId: 'C1', text: 'status', respond: async () => undefined });
    expect(reply.text).toMatch(
      /^`status` failed: no management endpoint of cluster prod answered: http:\/\/127\.0\.0\.1:9/,
    );
    expect(reply.text).not.toContain('router-test-secret');
    const metric = await metrics.registry.getSingleMetricAsString('warren_commands_total');
    expect(metric).toContain('warren_commands_total{command="status",outcome="error"} 1');
  });
});

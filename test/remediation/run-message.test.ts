import { describe, expect, it } from 'vitest';
import { RUN_ACTIONS, renderRun } from '../../src/remediation/run-message.js';
import type { WorkflowRun } from '../../src/remediation/workflow-run.js';

const NOW = Date.parse('2026-12-01T21:00:00Z');

function run(overrides: Partial<WorkflowRun> = {}): WorkflowRun {
  return {
    id: 'r-0123abcd',
    workflow: 'delete-zombie-queues',
    cluster: 'prod',
    args: {},
    risk: 'medium',
    requester: 'U0REQ',
    channel: 'C0OPS',
    createdAt: NOW,
    expiresAt: NOW + 15 * 60_000,
    approvalsNeeded: 1,
    plan: {
      summary: 'delete 2 queue(s) holding 40 message(s)',
      warnings: ['The messages in them are dropped.'],
      actions: [
        { key: '/\u0000a', label: 'delete `a`', data: {} },
        { key: '/\u0000b', label: 'delete `b`', data: {} },
      ],
      guards: ['the queue still has no consumer'],
    },
    status: 'pending',
    approvals: [],
    steps: [],
    updatedAt: NOW,
    ...overrides,
  };
}

describe('renderRun', () => {
  it('shows the plan, requester, deadline and Approve/Reject buttons carrying only the run id while pending', () => {
    const json = JSON.stringify(renderRun(run(), NOW).blocks);
    for (const part of [
      'delete 2 queue(s) holding 40 message(s)',
      'delete `b`',
      '<@U0REQ>',
      'approvals 0/1',
      'in 15 min',
      'the queue still has no consumer',
    ]) {
      expect(json).toContain(part);
    }
    expect(json).toContain(RUN_ACTIONS.approve);
    expect(json).toContain('"value":"r-0123abcd"');
  });

  it('drops the buttons once the run left pending, and says how it ended', () => {
    const message = renderRun(
      run({
        status: 'succeeded',
        approvals: [{ user: 'U0APP', at: NOW }],
        outcome: '2 queue(s) deleted',
        steps: [{ key: 'a', label: 'delete `a`', status: 'done', detail: 'deleted', at: NOW }],
      }),
      NOW,
    );
    const json = JSON.stringify(message.blocks);
    expect(json).not.toContain(RUN_ACTIONS.approve);
    expect(json).toContain('2 queue(s) deleted');
    expect(json).toContain('1 done, 0 skipped, 0 failed of 2');
    expect(message.text).toMatch(/^Done and verified/);
  });

  it('offers Resume and Abandon, with only the run id, on an interrupted run', () => {
    const message = renderRun(
      run({
        status: 'interrupted',
        outcome: 'warren stopped during the run; done before it stopped: delete `a`',
        steps: [{ key: 'a', label: 'delete `a`', status: 'done', detail: 'deleted', at: NOW }],
      }),
      NOW,
    );
    const json = JSON.stringify(message.blocks);
    expect(json).toContain(`"action_id":"${RUN_ACTIONS.resume}","value":"r-0123abcd"`);
    expect(json).toContain(`"action_id":"${RUN_ACTIONS.abandon}","value":"r-0123abcd"`);
    expect(json).not.toContain(RUN_ACTIONS.approve);
    expect(message.text).toMatch(/^Interrupted/);
    const abandoned = JSON.stringify(renderRun(run({ status: 'abandoned' }), NOW).blocks);
    expect(abandoned).not.toContain(RUN_ACTIONS.resume);
    expect(abandoned).toContain('Abandoned after an interruption');
  });
});

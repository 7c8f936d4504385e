/**
 * The main messages warren posts, rendered by the real renderers from realistic states: docs/messages.md shows them
 * (Block Kit JSON to paste into Slack's Block Kit Builder, and the console's rendering), and
 * test/docs/messages.test.ts keeps that page equal to what the code renders now.
 */
import type { ChatMessage } from '../../src/chat/chat-message.js';
import { renderMessage } from '../../src/chat/render-text.js';
import { renderAlert } from '../../src/health/alert-message.js';
import type { AlertState } from '../../src/health/alert-state.js';
import { zombieQueuesCheck } from '../../src/health/checks/zombie-queues.js';
import { renderRun } from '../../src/remediation/run-message.js';
import type { WorkflowRun } from '../../src/remediation/workflow-run.js';
import { renderGroup } from '../../src/tap/group-message.js';

const AT = Date.UTC(2026, 10, 22, 3, 4);

const zombieAlert: AlertState = {
  id: 'zombie-queues@prod',
  cluster: 'prod',
  check: 'zombie-queues',
  status: 'firing',
  severity: 'warning',
  findings: [
    {
      check: 'zombie-queues',
      severity: 'warning',
      subject: '/\u0000compute_fanout_6b2f0e1c9d8a4f7e8a1b2c3d4e5f6a7b',
      summary:
        'Fanout queue `compute_fanout_6b2f0e1c9d8a4f7e8a1b2c3d4e5f6a7b` of topic `compute` holds 4,211 messages with no consumer, while another `compute` fanout queue is consumed',
      details: [
        'Live sibling: another `compute` fanout queue has a consumer, so the server that declared this one died and came back under a new queue',
        'No `x-expires`: it stays until deleted',
        'Up 118 since the previous sweep',
      ],
    },
    {
      check: 'zombie-queues',
      severity: 'warning',
      subject: '/\u0000reply_0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f',
      summary: 'Reply queue `reply_0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f` holds 12 messages with no consumer',
    },
  ],
  findingCount: 2,
  firedAt: AT,
  updatedAt: AT,
  remindedAt: AT,
  channel: 'C0ALERTS',
  replies: [],
};

const view = {
  title: zombieQueuesCheck.title,
  hint: zombieQueuesCheck.hint,
  workflow: zombieQueuesCheck.workflow,
};

const approvalRequest: WorkflowRun = {
  id: 'r-7e9d277a',
  workflow: 'delete-zombie-queues',
  cluster: 'prod',
  args: {},
  risk: 'medium',
  requester: 'U0ANNA',
  channel: 'C0ALERTS',
  createdAt: AT + 60_000,
  expiresAt: AT + 16 * 60_000,
  approvalsNeeded: 1,
  plan: {
    summary: 'delete 2 queue(s) holding 4,223 message(s)',
    warnings: ['The messages in them are dropped: fanout casts and RPC replies that no live process will ever read.'],
    actions: [
      {
        key: '/\u0000compute_fanout_6b2f0e1c9d8a4f7e8a1b2c3d4e5f6a7b',
        label:
          'delete `compute_fanout_6b2f0e1c9d8a4f7e8a1b2c3d4e5f6a7b`: 4,211 message(s), topic `compute`, live sibling',
        data: {},
        vhosts: ['/'],
      },
      {
        key: '/\u0000reply_0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f',
        label: 'delete `reply_0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f`: 12 message(s)',
        data: {},
        vhosts: ['/'],
      },
    ],
    guards: [
      'the queue still exists and still has no consumer',
      'deleted with if-unused=true: the broker itself refuses if a consumer attached meanwhile',
    ],
  },
  status: 'pending',
  approvals: [],
  steps: [],
  updatedAt: AT + 60_000,
};

export interface MessageExample {
  title: string;
  about: string;
  message: ChatMessage;
}

export function messageExamples(): MessageExample[] {
  return [
    {
      title: 'Health alert, firing',
      about: 'One message per check and cluster, listing every culprit; edited in place while it fires.',
      message: renderAlert(zombieAlert, view),
    },
    {
      title: 'Grouped notification alert (tap)',
      about: 'A burst of OpenStack error notifications, grouped by event type, service and host, counted in place.',
      message: renderGroup({
        id: 'g-1',
        channel: 'C0ALERTS',
        title: 'compute.instance.create.error from compute on cmp-01',
        severity: 'error',
        groupKey: 'eventType=compute.instance.create.error service=compute host=cmp-01',
        route: 'errors',
        cluster: 'prod',
        count: 37,
        firstSeen: AT,
        lastSeen: AT + 154_000,
        lastError: 'NoValidHost: No valid host was found. There are not enough hosts available.',
        hosts: ['cmp-01'],
        instances: ['178b0921-8f85-4257-88b6-2e743b5a975c', '5f369b07-7ee2-446f-a573-b35f3597d121'],
        vhosts: ['/'],
      }),
    },
    {
      title: 'Approval request',
      about: 'The plan with its blast radius, the guards re-checked before each step, and buttons for someone else.',
      message: renderRun(approvalRequest, AT + 61_000),
    },
    {
      title: 'Health alert, resolved',
      about: 'The same message, edited once the condition is gone (a reply in its thread says so too).',
      message: renderAlert({ ...zombieAlert, status: 'resolved', resolvedAt: AT + 300_000 }, view),
    },
  ];
}

/** docs/messages.md as the code renders it now. */
export function messagesPage(): string {
  const parts = [
    '# What warren posts',
    '',
    "The main messages, rendered by warren's own code from example states (`npm test` fails when this page and the",
    'code disagree; regenerate it with `UPDATE_DOCS=1 npx vitest run test/docs/messages.test.ts`). Paste a JSON',
    "block into Slack's Block Kit Builder to see it as Slack shows it; the text below it is the console's rendering.",
    '',
  ];
  for (const example of messageExamples()) {
    parts.push(
      `## ${example.title}`,
      '',
      example.about,
      '',
      '```',
      renderMessage(example.message).text,
      '```',
      '',
      '<details><summary>Block Kit JSON</summary>',
      '',
      '```json',
      JSON.stringify({ blocks: example.message.blocks }, null, 2),
      '```',
      '',
      '</details>',
      '',
    );
  }
  return parts.join('\n');
}

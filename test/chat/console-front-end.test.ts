import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ActionInvocation, Invocation } from '../../src/chat/chat-message.js';
import { startConsoleFrontEnd } from '../../src/chat/console-front-end.js';

function harness() {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const waiters = new Set<() => void>();
  output.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters) w();
  });
  const invocations: Invocation[] = [];
  const actions: ActionInvocation[] = [];
  const front = startConsoleFrontEnd({
    slashCommand: '/rabbit',
    input,
    output,
    onCommand: async (invocation) => {
      invocations.push(invocation);
      await invocation.respond({ visibility: 'ephemeral', text: `you said ${invocation.text}` });
    },
    onAction: async (action) => {
      actions.push(action);
      await action.respond({ visibility: 'ephemeral', text: `pressed ${action.value}` });
    },
  });
  const waitFor = (needle: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (text.includes(needle)) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  return { input, front, invocations, actions, waitFor, text: () => text };
}

describe('console front end', () => {
  it('turns typed slash commands into invocations with the acting user and channel', async () => {
    const h = harness();
    h.input.write('/as U0BOB\n/in C0OPS\n/rabbit status prod\n');
    await h.waitFor('you said status prod');
    expect(h.invocations.map((i) => [i.userId, i.channelId, i.text])).toEqual([['U0BOB', 'C0OPS', 'status prod']]);
    expect(h.text()).toContain('warren (only visible to you):\nyou said status prod');
    await h.front.stop();
  });

  it('refuses malformed ids and unknown input with a hint', async () => {
    const h = harness();
    h.input.write('/as bob\nhello\n');
    await h.waitFor('unknown input');
    expect(h.text()).toContain('usage: /as U123 (a Slack id)');
    expect(h.text()).toContain('unknown input; type /rabbit help, or /help for the console');
    expect(h.invocations).toEqual([]);
    await h.front.stop();
  });

  it('shows posts, updates and thread replies, and numbers buttons across messages', async () => {
    const h = harness();
    const button = (n: string) => ({
      type: 'button' as const,
      action_id: `act_${n}`,
      value: n,
      text: { type: 'plain_text' as const, text: n },
    });
    const first = await h.front.port.post('C0ALERTS', {
      text: 'alert',
      blocks: [{ type: 'actions', elements: [button('Fix'), button('Ack')] }],
    });
    await h.front.port.update('C0ALERTS', first.ts, { text: 'alert (resolved)' });
    await h.front.port.post('C0ALERTS', { text: 'resolved after 3m' }, { threadTs: first.ts });
    await h.front.port.post('C0ALERTS', { text: 'x', blocks: [{ type: 'actions', elements: [button('Silence')] }] });
    expect(h.text()).toContain(`[#C0ALERTS ${first.ts}] warren:\n[1] Fix  [2] Ack`);
    expect(h.text()).toContain(`[#C0ALERTS ${first.ts} updated] warren:\nalert (resolved)`);
    expect(h.text()).toContain(`    [#C0ALERTS thread ${first.ts}] warren:\n    resolved after 3m`);
    expect(h.text()).toContain('[3] Silence');
    h.input.write('/as U0CAROL\n3\n9\n');
    await h.waitFor('no button numbered 9');
    expect(h.actions.map(({ actionId, value, userId, channelId }) => ({ actionId, value, userId, channelId }))).toEqual(
      [{ actionId: 'act_Silence', value: 'Silence', userId: 'U0CAROL', channelId: 'C0CONSOLE' }],
    );
    expect(h.text()).toContain('warren (only visible to you):\npressed Silence');
    await h.front.stop();
  });
});

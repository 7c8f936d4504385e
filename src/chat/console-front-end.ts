/**
 * The console front end: a terminal chat in the style of Hubot's shell adapter. Operators type `/rabbit status`,
 * see alerts and answers as text, pick buttons by number and try access rules with `/as U123` and `/in C123`
 * using the same ids as in Slack. It implements the same `ChatPort` as Slack, so features cannot tell them apart.
 */
import { createInterface, type Interface } from 'node:readline';
import type { ActionInvocation, ChatMessage, ChatPort, Invocation, PostedMessage } from './chat-message.js';
import { type RenderedButton, renderMessage } from './render-text.js';
import { scrubMessage } from './scrub-message.js';

export interface ConsoleFrontEndDeps {
  slashCommand: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  userId?: string;
  channelId?: string;
  onCommand(invocation: Invocation): Promise<void>;
  onAction?(action: ActionInvocation): Promise<void>;
  /** Called when the input ends (Ctrl-D) or the user types /quit. */
  onClose?(): void;
  /** Console-only commands (e.g. the demo's `/fault`), by their first word. */
  extraCommands?: Record<string, ConsoleCommand>;
}

export interface ConsoleCommand {
  /** One line for the console's help: arguments and what it does. */
  help: string;
  run(args: string[], write: (text: string) => void): Promise<void>;
}

export interface ConsoleFrontEnd {
  port: ChatPort;
  stop(): Promise<void>;
}

export const CONSOLE_USER = 'U0CONSOLE';
export const CONSOLE_CHANNEL = 'C0CONSOLE';

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

export function startConsoleFrontEnd(deps: ConsoleFrontEndDeps): ConsoleFrontEnd {
  let userId = deps.userId ?? CONSOLE_USER;
  let channelId = deps.channelId ?? CONSOLE_CHANNEL;
  let tsCounter = 0;
  const choices: RenderedButton[] = [];
  const write = (text: string) => deps.output.write(`${text}\n`);

  const show = (header: string, message: ChatMessage, prefix = '') => {
    const rendered = renderMessage(scrubMessage(message), choices.length + 1);
    choices.push(...rendered.buttons);
    write(indent(`${header}\n${rendered.text}`, prefix));
  };

  const help = () =>
    write(
      [
        'warren console. Type commands as in Slack:',
        `  ${deps.slashCommand} help            list warren's commands`,
        `  ${deps.slashCommand} status          the cluster at a glance`,
        '  /as U123              act as another Slack user id (access rules)',
        '  /in C123              act in another channel id',
        '  <number>              press the button with that number',
        ...Object.entries(deps.extraCommands ?? {}).map(([name, command]) => `  ${name} ${command.help}`),
        '  /quit                 stop warren',
      ].join('\n'),
    );

  const rl: Interface = createInterface({ input: deps.input, terminal: false });
  let closed = false;
  rl.on('close', () => {
    closed = true;
    deps.onClose?.();
  });

  const handleLine = async (raw: string) => {
    const line = raw.trim();
    if (line === '') return;
    const [head = '', ...rest] = line.split(/\s+/);
    if (head === '/as' || head === '/in') {
      const id = rest[0];
      if (!id || !/^[A-Z][A-Z0-9]{2,}$/.test(id)) {
        write(`usage: ${head} ${head === '/as' ? 'U123' : 'C123'} (a Slack id)`);
        return;
      }
      if (head === '/as') userId = id;
      else channelId = id;
      write(`now acting as ${userId} in ${channelId}`);
      return;
    }
    if (head === '/quit' || head === '/exit') {
      rl.close();
      return;
    }
    if (head === '/help') {
      help();
      return;
    }
    const extra = deps.extraCommands?.[head];
    if (extra) {
      await extra.run(rest, write);
      return;
    }
    if (/^\d+$/.test(head)) {
      const choice = choices[Number(head) - 1];
      if (!choice) write(`no button numbered ${head}`);
      else if (!deps.onAction) write(`button "${choice.label}" has no handler yet`);
      else {
        await deps.onAction({
          actionId: choice.actionId,
          value: choice.value,
          userId,
          channelId,
          respond: async (reply) => show('warren (only visible to you):', reply),
        });
      }
      return;
    }
    if (head !== deps.slashCommand) {
      write(`unknown input; type ${deps.slashCommand} help, or /help for the console's own commands`);
      return;
    }
    await deps.onCommand({
      userId,
      channelId,
      text: rest.join(' '),
      respond: async (reply) => {
        show(reply.visibility === 'ephemeral' ? 'warren (only visible to you):' : `[#${channelId}] warren:`, reply);
      },
    });
  };

  // Lines are handled one at a time, in order, as a chat would.
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue
      .then(() => handleLine(line))
      .catch((error) => {
        write(`error: ${String(error)}`);
      });
  });
  help();

  const port: ChatPort = {
    async post(channel: string, message: ChatMessage, options?: { threadTs?: string }): Promise<PostedMessage> {
      tsCounter++;
      const ts = `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
      if (options?.threadTs) show(`[#${channel} thread ${options.threadTs}] warren:`, message, '    ');
      else show(`[#${channel} ${ts}] warren:`, message);
      return { channel, ts };
    },
    async update(channel: string, ts: string, message: ChatMessage): Promise<void> {
      show(`[#${channel} ${ts} updated] warren:`, message);
    },
  };

  return {
    port,
    async stop() {
      await queue;
      if (!closed) rl.close();
    },
  };
}

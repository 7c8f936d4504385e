/**
 * The Slack front end: a Bolt app in HTTP mode (Bolt's receiver at /slack/events verifies every request's
 * signature and serves warren's own routes beside it) or in Socket Mode. It translates slash commands into
 * `Invocation`s for the router and exposes Slack's Web API as a `ChatPort`. Nothing above this file imports Bolt.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  App,
  HTTPModuleFunctions,
  HTTPReceiver,
  isRawBodyError,
  LogLevel,
  type Logger as SlackLogger,
} from '@slack/bolt';
import type { WarrenConfig } from '../config/schema.js';
import type { Route } from '../http/health-routes.js';
import { LogThrottle } from '../log-throttle.js';
import type { Logger } from '../logger.js';
import type { ActionInvocation, ChatMessage, ChatPort, ChatReply, Invocation, PostedMessage } from './chat-message.js';
import { scrubMessage } from './scrub-message.js';
import { fitToSlack } from './slack-limits.js';
import { slackBodyProblem } from './slack-request-body.js';
import { slackUserGroups } from './slack-user-groups.js';

export interface SlackFrontEndDeps {
  config: WarrenConfig;
  logger: Logger;
  routes: Route[];
  onCommand(invocation: Invocation): Promise<void>;
  onAction(action: ActionInvocation): Promise<void>;
}

export interface SlackFrontEnd {
  port: ChatPort;
  /** The HTTP port Bolt listens on in HTTP mode; undefined in Socket Mode. */
  httpPort?: number;
  stop(): Promise<void>;
}

/** Bolt logs through warren's pino logger, so its lines are JSON and scrubbed like the rest. */
function boltLogger(logger: Logger): SlackLogger {
  const child = logger.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  return {
    debug: (...msg) => child.debug(msg.map(String).join(' ')),
    info: (...msg) => child.info(msg.map(String).join(' ')),
    warn: (...msg) => child.warn(msg.map(String).join(' ')),
    error: (...msg) => child.error(msg.map(String).join(' ')),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** Scrubbed of secrets, then cut to Slack's limits: what every message to Slack goes through. */
function slackSafe<M extends ChatMessage>(message: M): M {
  return fitToSlack(scrubMessage(message));
}

function replyPayload(reply: ChatReply) {
  const safe = slackSafe(reply);
  return { response_type: safe.visibility, text: safe.text, blocks: safe.blocks, replace_original: false };
}

/** Largest request body accepted on /slack/events. */
export const SLACK_BODY_LIMIT = 1024 * 1024;

const SLACK_EVENTS_PATH = '/slack/events';

/** One retry after 1 s inside a Web API call; what still fails is retried by warren's own loops. */
export const SLACK_API_RETRY = { retries: 1, minTimeout: 1_000, maxTimeout: 1_000, factor: 1 };

/**
 * Reads and verifies a request to /slack/events the way Bolt does, then refuses (400, with the reason) a signed body
 * Bolt could not read without throwing outside any handler. True when it answered; false hands the request to Bolt,
 * which finds the body already read (and answers 401 itself to a bad signature, after verifying it again).
 */
async function refusedBeforeBolt(
  req: IncomingMessage,
  res: ServerResponse,
  signingSecret: string,
  note: (error: unknown) => void,
): Promise<boolean> {
  let rawBody: Buffer;
  try {
    ({ rawBody } = await HTTPModuleFunctions.parseAndVerifyHTTPRequest(
      { signingSecret, bodyLimit: SLACK_BODY_LIMIT },
      req,
    ));
  } catch (error) {
    // Unread (too large, aborted): Bolt cannot read it a second time, so answer here with raw-body's status (413 …).
    if (isRawBodyError(error)) {
      HTTPModuleFunctions.buildNoBodyResponse(res, (error as { statusCode: number }).statusCode);
      return true;
    }
    return false;
  }
  const problem = slackBodyProblem(req.headers['content-type'], rawBody.toString());
  if (!problem) return false;
  note(problem);
  res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(problem.message);
  return true;
}

/**
 * Lets the requests already received reach their acknowledgement before this one's work starts. In a burst, every
 * command's work ran on the event loop between the other requests' reads and acks, and the last acks waited for all
 * of it (bench/commands).
 */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function startSlackFrontEnd(deps: SlackFrontEndDeps): Promise<SlackFrontEnd> {
  const { config, logger } = deps;
  const slack = config.slack;
  const clientOptions = {
    ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl.endsWith('/') ? slack.apiUrl : `${slack.apiUrl}/` } : {}),
    // The WebClient's defaults are no timeout and ten retries over about 30 minutes, all inside one call: a Slack
    // that hangs or fails would keep a sweep in one call far past its lock (and a tap group past its post lock), so
    // a second writer could post the same alert. warren retries on its own (the next sweep, the next flush, in
    // order, from Redis); the client gets one quick retry, and each attempt at most `slack.apiTimeout`.
    timeout: slack.apiTimeoutMs,
    retryConfig: SLACK_API_RETRY,
    // A 429 is thrown at once (with its Retry-After) instead of being waited out inside the call: the client would
    // pause all its calls, then send the retry and the calls queued meanwhile together, outside the channel's pace,
    // and at Slack's pace those collide into more 429s. The ChannelPacer holds the channel for Retry-After
    // (holdAfter) and the call goes again through it.
    rejectRateLimitedCalls: true,
  };
  const log = boltLogger(logger);
  let receiver: HTTPReceiver | undefined;
  let app: App;
  // One log line per minute at most for malformed requests: a flood of them must not flood the log too.
  const malformedLog = new LogThrottle(60_000);
  const malformed = {
    note(error: unknown) {
      malformedLog.pass('malformed', (held) =>
        logger.warn({ err: error, count: held + 1 }, 'refused malformed Slack requests (signed, but unreadable)'),
      );
    },
  };
  if (slack.mode === 'socket') {
    app = new App({
      token: slack.botToken,
      appToken: slack.appToken,
      socketMode: true,
      logger: log,
      clientOptions,
      convoStore: false,
    });
  } else {
    receiver = new HTTPReceiver({
      signingSecret: slack.signingSecret as string,
      endpoints: SLACK_EVENTS_PATH,
      customRoutes: deps.routes,
      logger: log,
      // Slack's own requests stay far below this (a block_actions payload carries at most one message's blocks);
      // anything bigger is refused with 413 before it is buffered, instead of Bolt's default of 4 MiB.
      bodyLimit: SLACK_BODY_LIMIT,
      // A signed request Bolt cannot make sense of (no user, an unknown payload shape) failed before any listener
      // acknowledged it: refuse it as malformed (400), not as a server fault (500). Errors in warren's own
      // listeners happen after the ack and are logged by app.error.
      processEventErrorHandler: async ({ error, response }) => {
        if (response.headersSent) return false;
        malformed.note(error);
        response.writeHead(400);
        response.end();
        return true;
      },
      // Nothing warren listens to: say so after 1 s rather than Bolt's 3 s.
      unhandledRequestTimeoutMillis: 1_000,
      unhandledRequestHandler: ({ response }) => {
        if (!response.headersSent) {
          response.writeHead(404);
          response.end();
        }
      },
    });
    // Bolt's server calls `receiver.requestListener` for every request; /slack/events goes through
    // refusedBeforeBolt first, everything else (health routes, 404s) straight to Bolt, synchronously as before.
    const boltListener = receiver.requestListener;
    const signingSecret = slack.signingSecret as string;
    receiver.requestListener = (req, res) => {
      if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://localhost').pathname !== SLACK_EVENTS_PATH) {
        return boltListener(req, res);
      }
      refusedBeforeBolt(req, res, signingSecret, malformed.note).then(
        (refused) => {
          if (!refused) boltListener(req, res);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'reading a Slack request failed');
          if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 500);
        },
      );
    };
    // No conversation store: warren keeps its state in Redis, and Bolt's in-memory one costs work before every ack.
    app = new App({ token: slack.botToken, receiver, logger: log, clientOptions, convoStore: false });
  }

  const groupIds = [
    ...new Set([...config.access.readers, ...config.access.operators, ...config.access.approvers]),
  ].filter((id) => id.startsWith('S'));
  const userGroups = slackUserGroups(app.client, groupIds);

  app.command(slack.command, async ({ command, ack, respond }) => {
    // Slack wants the acknowledgement within 3 s; the answer follows through response_url.
    await ack();
    await yieldToIo();
    await deps.onCommand({
      userId: command.user_id,
      groups: groupIds.length > 0 ? await userGroups.groupsOf(command.user_id) : [],
      channelId: command.channel_id,
      text: command.text ?? '',
      respond: async (reply) => {
        await respond(replyPayload(reply));
      },
    });
  });
  // Every button warren renders has an action id under `warren:`; the click is acknowledged at once and the
  // outcome goes to the clicker through response_url.
  app.action({ action_id: /^warren:/ }, async ({ ack, body, action, respond }) => {
    await ack();
    if (body.type !== 'block_actions' || action.type !== 'button' || !('action_id' in action)) return;
    await deps.onAction({
      actionId: action.action_id,
      value: action.value ?? '',
      userId: body.user.id,
      groups: groupIds.length > 0 ? await userGroups.groupsOf(body.user.id) : [],
      channelId: body.channel?.id ?? '',
      messageTs: body.message?.ts,
      respond: async (reply) => {
        await respond(replyPayload(reply));
      },
    });
  });
  app.error(async (error) => {
    logger.error({ err: error }, 'slack handler failed');
  });

  let httpPort: number | undefined;
  if (receiver) {
    const server = (await app.start(config.port)) as Server;
    const address = server.address();
    httpPort = typeof address === 'object' && address ? address.port : config.port;
  } else {
    await app.start();
  }
  logger.info({ mode: slack.mode, port: httpPort }, 'slack front end started');

  const port: ChatPort = {
    async post(channel: string, message: ChatMessage, options?: { threadTs?: string }): Promise<PostedMessage> {
      const safe = slackSafe(message);
      const result = await app.client.chat.postMessage({
        channel,
        text: safe.text,
        blocks: safe.blocks,
        thread_ts: options?.threadTs,
      });
      return { channel: result.channel ?? channel, ts: result.ts as string };
    },
    async update(channel: string, ts: string, message: ChatMessage): Promise<void> {
      const safe = slackSafe(message);
      await app.client.chat.update({ channel, ts, text: safe.text, blocks: safe.blocks });
    },
  };

  return { port, httpPort, stop: () => app.stop().then(() => undefined) };
}

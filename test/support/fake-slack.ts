// Fake Slack Web API + response_url endpoint for tests: a node:http server on 127.0.0.1 that records every call the
// real @slack/web-api WebClient (or Bolt's respond()) makes and answers with the same shape Slack does, so code under
// test can run unmodified with only `slackApiUrl` pointed here.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scanForSecrets } from './secret-scan.js';

export const FAKE_TEAM_ID = 'T000WARREN';
export const FAKE_TEAM_DOMAIN = 'warren-test';
export const FAKE_TEAM_NAME = 'Warren Test';
export const FAKE_BOT_USER_ID = 'U000BOT';
export const FAKE_BOT_ID = 'B000BOT';
export const FAKE_BOT_USER_NAME = 'warren';
export const FAKE_APP_ID = 'A000WARREN';

export interface RecordedCall {
  method: string;
  /** Request parameters as sent, minus `token`. Form-encoded scalars stay strings ('true', '100'); see JSON_FIELDS. */
  params: Record<string, unknown>;
  /** From `Authorization: Bearer …`, else the `token` param. */
  token?: string;
  /** HTTP status the fake answered with (lets reliability tests tell a 429 attempt from its retry). */
  status: number;
  /** The JSON body the fake answered with, e.g. the `ts` of a posted message. */
  reply?: unknown;
  at: number;
  seq: number;
}

/** A POST to a response_url (Bolt's `respond()`). */
export interface RecordedResponse {
  path: string;
  /** The `<id>` part of `/response/<id>`. */
  id: string;
  body: Record<string, unknown>;
  status: number;
  at: number;
  seq: number;
}

export interface FailureReply {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings verbatim; omitted → a Slack-like `{ ok: false, error }` for the status. */
  body?: unknown;
}

/** Custom answer for a method; return value is merged over `{ ok: true }`. */
export type MethodHandler = (call: RecordedCall) => Record<string, unknown>;

// WebClient.serializeBody JSON-stringifies every non-primitive argument into the form body. Only these are decoded
// back, by name: decoding every string that happens to parse as JSON would turn a message text like "[1]" into an array.
const JSON_FIELDS = new Set([
  'blocks',
  'attachments',
  'metadata',
  'view',
  'unfurls',
  'user_auth_blocks',
  'outputs',
  'chunks',
]);

const MAX_BODY_BYTES = 5 * 1024 * 1024;
const DEFAULT_WAIT_MS = 10_000;
const TS_BASE_SEC = 1_700_000_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface PendingFailure {
  reply: FailureReply;
  remaining: number;
}

interface Hold {
  method: string;
  predicate: (c: RecordedCall) => boolean;
  reached: (call: RecordedCall) => void;
  released: Promise<void>;
  release: () => void;
}

/** A call held unanswered: the client waits inside it until `release()`. */
export interface HeldCall {
  /** Resolves with the call once it has arrived and is being held. */
  reached: Promise<RecordedCall>;
  release(): void;
}

export interface Outage {
  /** Calls answered with a failure so far. */
  failed(): number;
  end(): void;
}

interface ActiveOutage {
  methods: ReadonlySet<string>;
  replies: readonly FailureReply[];
  failed: number;
}

export class FakeSlack {
  readonly baseUrl: string;
  readonly apiUrl: string;
  readonly calls: RecordedCall[] = [];
  readonly responses: RecordedResponse[] = [];

  private readonly events = new EventEmitter();
  private readonly failures = new Map<string, PendingFailure[]>();
  private readonly responseFailures: PendingFailure[] = [];
  private readonly handlers = new Map<string, MethodHandler>();
  private readonly holds = new Set<Hold>();
  private readonly outages = new Set<ActiveOutage>();
  private readonly usergroups = new Map<string, string[]>();
  private readonly waiters = new Set<(err: Error) => void>();
  private seq = 0;
  private paceMs = 0;
  private readonly lastAccepted = new Map<string, number>();
  // Survives reset() so a ts is unique for the lifetime of the fake, not just within one test.
  private tsCounter = 0;
  private viewCounter = 0;

  private constructor(private readonly server: Server) {
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.baseUrl}/api/`;
    this.events.setMaxListeners(0);
  }

  static async start(): Promise<FakeSlack> {
    let fake: FakeSlack | undefined;
    const server = createServer((req, res) => {
      // The server can only receive requests after listen() resolved, by which time `fake` is set.
      (fake as FakeSlack).handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    fake = new FakeSlack(server);
    return fake;
  }

  responseUrl(id: string = randomUUID()): string {
    return `${this.baseUrl}/response/${encodeURIComponent(id)}`;
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  waitForCall(
    method: string,
    predicate: (c: RecordedCall) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<RecordedCall> {
    const matches = (c: RecordedCall) => c.method === method && safeTest(predicate, c);
    return this.waitFor('call', this.calls, matches, timeoutMs, () => {
      const seen = this.calls.map((c) => `  #${c.seq} ${c.method} (${c.status}) ${preview(c.params)}`);
      return `FakeSlack: no ${method} call matching the predicate within ${timeoutMs} ms; saw ${seen.length} call(s)${
        seen.length ? `:\n${seen.join('\n')}` : ''
      }`;
    });
  }

  waitForResponse(
    predicate: (r: RecordedResponse) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<RecordedResponse> {
    const matches = (r: RecordedResponse) => safeTest(predicate, r);
    return this.waitFor('response', this.responses, matches, timeoutMs, () => {
      const seen = this.responses.map((r) => `  #${r.seq} ${r.path} ${preview(r.body)}`);
      const calls = this.calls.map((c) => c.method).join(', ') || 'none';
      return `FakeSlack: no response_url post matching the predicate within ${timeoutMs} ms; saw ${seen.length} post(s)${
        seen.length ? `:\n${seen.join('\n')}` : ''
      }\n  (API calls seen: ${calls})`;
    });
  }

  /** Make the next `times` calls to `method` fail with `reply` (still recorded, with `status`). */
  failNext(method: string, reply: FailureReply, times = 1): void {
    const queue = this.failures.get(method) ?? [];
    queue.push({ reply, remaining: times });
    this.failures.set(method, queue);
  }

  /** Make the next `times` posts to any response_url fail; Bolt's respond() then throws a RespondError. */
  failNextResponse(reply: FailureReply, times = 1): void {
    this.responseFailures.push({ reply, remaining: times });
  }

  /** Answer `method` with `{ ok: true, ...handler(call) }` instead of the built-in reply. */
  setHandler(method: string, handler: MethodHandler | undefined): void {
    if (handler) this.handlers.set(method, handler);
    else this.handlers.delete(method);
  }

  /**
   * Holds the answer to every call to `method` that matches until `release()`, so the code under test stays blocked
   * in that call (say, between two steps of a run), its client's retries after a timeout included. `reached` is the
   * first; each call is recorded once it is answered.
   */
  hold(method: string, predicate: (c: RecordedCall) => boolean): HeldCall {
    let reached!: (call: RecordedCall) => void;
    let release!: () => void;
    const arrived = new Promise<RecordedCall>((resolve) => {
      reached = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hold: Hold = { method, predicate, reached, released, release };
    this.holds.add(hold);
    return {
      reached: arrived,
      release: () => {
        this.holds.delete(hold);
        release();
      },
    };
  }

  /**
   * Slack down for `methods` until `end()`: every call fails, taking `replies` in turn (say a 500, then a 429 with
   * Retry-After), for however many retries the client makes. Failed calls are recorded like any other.
   */
  outage(methods: readonly string[], replies: readonly FailureReply[]): Outage {
    const active: ActiveOutage = { methods: new Set(methods), replies, failed: 0 };
    this.outages.add(active);
    return {
      failed: () => active.failed,
      end: () => {
        this.outages.delete(active);
      },
    };
  }

  private outageFailure(method: string): FailureReply | undefined {
    const active = [...this.outages].find((o) => o.methods.has(method));
    if (!active || active.replies.length === 0) return undefined;
    return active.replies[active.failed++ % active.replies.length];
  }

  /**
   * Slack's per-channel pace (about one message a second per channel): from now on a chat.postMessage or chat.update
   * to a channel sooner than `intervalMs` after the last one accepted there is answered 429 with `Retry-After` in
   * whole seconds, as Slack answers. 0 turns it off.
   */
  enforcePace(intervalMs: number): void {
    this.paceMs = intervalMs;
    this.lastAccepted.clear();
  }

  private paceFailure(method: string, params: Record<string, unknown>, now: number): FailureReply | undefined {
    const channel = params.channel;
    if (this.paceMs <= 0 || typeof channel !== 'string') return undefined;
    if (method !== 'chat.postMessage' && method !== 'chat.update') return undefined;
    const elapsed = now - (this.lastAccepted.get(channel) ?? Number.NEGATIVE_INFINITY);
    if (elapsed >= this.paceMs) {
      this.lastAccepted.set(channel, now);
      return undefined;
    }
    return { status: 429, headers: { 'retry-after': String(Math.ceil((this.paceMs - elapsed) / 1000)) } };
  }

  setUsergroup(id: string, users: string[]): void {
    this.usergroups.set(id, [...users]);
  }

  /**
   * Clears recorded calls/responses and any unconsumed failNext queues (a leftover failure would otherwise leak into
   * the next test). Configuration (usergroups, handlers) and the ts counter are kept.
   */
  reset(): void {
    this.calls.length = 0;
    this.responses.length = 0;
    this.failures.clear();
    this.responseFailures.length = 0;
    this.outages.clear();
  }

  async stop(): Promise<void> {
    for (const hold of [...this.holds]) hold.release();
    for (const reject of [...this.waiters]) reject(new Error('FakeSlack stopped while a waitFor* was pending'));
    await new Promise<void>((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      // fetch keeps connections alive; without this close() waits for them to idle out.
      this.server.closeAllConnections();
    });
  }

  private waitFor<T>(
    event: 'call' | 'response',
    existing: T[],
    matches: (item: T) => boolean,
    timeoutMs: number,
    describeTimeout: () => string,
  ): Promise<T> {
    const found = existing.find(matches);
    if (found) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off(event, onItem);
        this.waiters.delete(fail);
      };
      const fail = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onItem = (item: T) => {
        if (!matches(item)) return;
        cleanup();
        resolve(item);
      };
      const timer = setTimeout(() => fail(new Error(describeTimeout())), timeoutMs);
      this.events.on(event, onItem);
      this.waiters.add(fail);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // A client aborting mid-body must not take the server (and the test run) down.
    req.on('error', () => {});
    this.route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendJson(res, status, { ok: false, error: status === 500 ? 'fatal_error' : message });
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    let path: string;
    try {
      url = new URL(req.url ?? '/', this.baseUrl);
      path = decodeURIComponent(url.pathname);
    } catch {
      req.resume();
      throw new HttpError(400, 'invalid_url');
    }
    if (path.startsWith('/api/')) {
      await this.handleApi(path.slice('/api/'.length), url, req, res);
    } else if (path.startsWith('/response/') && req.method === 'POST') {
      await this.handleResponseUrl(path, req, res);
    } else {
      await readBody(req);
      sendJson(res, 404, { ok: false, error: 'unknown_method' });
    }
  }

  private async handleApi(method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
    Object.assign(params, await parseApiBody(req.headers['content-type'], raw));
    for (const key of JSON_FIELDS) {
      const value = params[key];
      if (typeof value !== 'string') continue;
      try {
        params[key] = JSON.parse(value);
      } catch {
        // Left as the raw string so the test can see what was sent; Slack would reject it, and so do we below.
      }
    }

    const auth = req.headers.authorization;
    const bearer = auth?.match(/^Bearer\s+(.+)$/i)?.[1];
    const tokenParam = typeof params.token === 'string' ? params.token : undefined;
    delete params.token;

    const call: RecordedCall = { method, params, status: 200, at: Date.now(), seq: 0 };
    const token = bearer ?? tokenParam;
    if (token !== undefined) call.token = token;
    const hold = [...this.holds].find((h) => h.method === method && safeTest(h.predicate, call));
    if (hold) {
      hold.reached(call);
      await hold.released;
    }
    call.seq = ++this.seq;

    const failure =
      takeFailure(this.failures.get(method)) ??
      this.outageFailure(method) ??
      this.paceFailure(method, params, Date.now());
    let status = 200;
    let headers: Record<string, string> = {};
    let body: unknown;
    if (failure) {
      status = failure.status;
      headers = failure.headers ?? {};
      body = failure.body ?? defaultFailureBody(failure.status);
    } else if (auth === undefined && tokenParam === undefined) {
      body = { ok: false, error: 'not_authed' };
    } else {
      try {
        body = this.reply(call);
      } catch (err) {
        // A throwing setHandler() is a test bug; surface it as Slack's generic failure, but keep the call on record.
        status = 500;
        body = { ok: false, error: 'fatal_error', detail: err instanceof Error ? err.message : String(err) };
      }
    }
    call.status = status;
    call.reply = body;
    scanForSecrets(`Slack ${call.method}`, JSON.stringify(call.params));
    this.calls.push(call);
    this.events.emit('call', call);
    send(res, status, headers, body);
  }

  private reply(call: RecordedCall): Record<string, unknown> {
    const handler = this.handlers.get(call.method);
    if (handler) return { ok: true, ...handler(call) };
    const p = call.params;
    const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? undefined : String(v));
    const channel = str(p.channel);
    if (typeof p.blocks === 'string') return { ok: false, error: 'invalid_blocks_format' };
    if (typeof p.attachments === 'string') return { ok: false, error: 'invalid_attachments' };

    switch (call.method) {
      case 'auth.test':
        return {
          ok: true,
          url: `https://${FAKE_TEAM_DOMAIN}.slack.com/`,
          team: FAKE_TEAM_NAME,
          user: FAKE_BOT_USER_NAME,
          team_id: FAKE_TEAM_ID,
          user_id: FAKE_BOT_USER_ID,
          bot_id: FAKE_BOT_ID,
          bot_user_id: FAKE_BOT_USER_ID,
          is_enterprise_install: false,
        };
      case 'chat.postMessage': {
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!hasContent(p)) return { ok: false, error: 'no_text' };
        const ts = this.nextTs();
        return { ok: true, channel, ts, message: this.botMessage(p, ts) };
      }
      case 'chat.update': {
        if (!channel) return { ok: false, error: 'channel_not_found' };
        const ts = str(p.ts);
        if (!ts) return { ok: false, error: 'message_not_found' };
        return { ok: true, channel, ts, text: str(p.text) ?? '', message: this.botMessage(p, ts) };
      }
      case 'chat.postEphemeral':
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!p.user) return { ok: false, error: 'user_not_in_channel' };
        if (!hasContent(p)) return { ok: false, error: 'no_text' };
        return { ok: true, message_ts: this.nextTs() };
      case 'chat.delete':
        if (!channel) return { ok: false, error: 'channel_not_found' };
        return { ok: true, channel, ts: str(p.ts) };
      case 'chat.getPermalink': {
        if (!channel) return { ok: false, error: 'channel_not_found' };
        const ts = str(p.message_ts) ?? '';
        const permalink = `https://${FAKE_TEAM_DOMAIN}.slack.com/archives/${channel}/p${ts.replace('.', '')}`;
        return { ok: true, channel, permalink };
      }
      case 'views.open':
      case 'views.push':
      case 'views.update': {
        const view = isRecord(p.view) ? p.view : {};
        const id = str(p.view_id) ?? `V${String(++this.viewCounter).padStart(9, '0')}`;
        return {
          ok: true,
          view: { ...view, id, team_id: FAKE_TEAM_ID, app_id: FAKE_APP_ID, bot_id: FAKE_BOT_ID, state: { values: {} } },
        };
      }
      case 'usergroups.users.list':
        return { ok: true, users: [...(this.usergroups.get(str(p.usergroup) ?? '') ?? [])] };
      default:
        return { ok: true };
    }
  }

  private botMessage(p: Record<string, unknown>, ts: string): Record<string, unknown> {
    const message: Record<string, unknown> = {
      type: 'message',
      user: FAKE_BOT_USER_ID,
      bot_id: FAKE_BOT_ID,
      app_id: FAKE_APP_ID,
      team: FAKE_TEAM_ID,
      text: typeof p.text === 'string' ? p.text : '',
      ts,
    };
    for (const key of ['blocks', 'attachments', 'metadata', 'thread_ts']) {
      if (p[key] !== undefined) message[key] = p[key];
    }
    return message;
  }

  // Fixed-width fraction keeps lexical order == numeric order, which code comparing ts strings relies on.
  private nextTs(): string {
    const n = ++this.tsCounter * 100;
    return `${TS_BASE_SEC + Math.floor(n / 1_000_000)}.${String(n % 1_000_000).padStart(6, '0')}`;
  }

  private async handleResponseUrl(path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'invalid_json');
    }
    if (!isRecord(body)) throw new HttpError(400, 'invalid_json');
    const failure = takeFailure(this.responseFailures);
    const status = failure?.status ?? 200;
    const recorded: RecordedResponse = {
      path,
      id: path.slice('/response/'.length),
      body,
      status,
      at: Date.now(),
      seq: ++this.seq,
    };
    scanForSecrets('a response_url answer', JSON.stringify(body));
    this.responses.push(recorded);
    this.events.emit('response', recorded);
    if (failure) send(res, status, failure.headers ?? {}, failure.body ?? defaultFailureBody(status));
    else sendJson(res, 200, { ok: true });
  }
}

function takeFailure(queue: PendingFailure[] | undefined): FailureReply | undefined {
  const head = queue?.[0];
  if (!queue || !head) return undefined;
  head.remaining -= 1;
  if (head.remaining <= 0) queue.shift();
  return head.reply;
}

function defaultFailureBody(status: number): Record<string, unknown> {
  if (status === 429) return { ok: false, error: 'ratelimited' };
  if (status >= 500) return { ok: false, error: 'fatal_error' };
  return { ok: false, error: `http_${status}` };
}

function hasContent(p: Record<string, unknown>): boolean {
  return Boolean(p.text) || Array.isArray(p.blocks) || Array.isArray(p.attachments);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function safeTest<T>(predicate: (item: T) => boolean, item: T): boolean {
  // A predicate that throws on an unrelated call (e.g. reading blocks[0] of a text-only message) just doesn't match.
  try {
    return predicate(item);
  } catch {
    return false;
  }
}

function preview(value: unknown): string {
  const json = JSON.stringify(value) ?? '';
  return json.length > 300 ? `${json.slice(0, 300)}…` : json;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'request_too_large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function parseApiBody(contentTypeHeader: string | undefined, raw: Buffer): Promise<Record<string, unknown>> {
  if (raw.length === 0) return {};
  const contentType = (contentTypeHeader ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const text = raw.toString('utf8');
  if (contentType === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (contentType === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'invalid_json');
    }
    if (!isRecord(parsed)) throw new HttpError(400, 'invalid_json');
    return parsed;
  }
  if (contentType === 'multipart/form-data') {
    // WebClient switches to multipart when any argument is a Buffer (file uploads); undici's parser does the work.
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw), {
        headers: { 'content-type': contentTypeHeader ?? '' },
      }).formData();
    } catch {
      throw new HttpError(400, 'invalid_form_data');
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of form) {
      out[key] = typeof value === 'string' ? value : { filename: value.name, size: value.size };
    }
    return out;
  }
  throw new HttpError(400, 'invalid_content_type');
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(body);
  } else {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, {}, body);
}

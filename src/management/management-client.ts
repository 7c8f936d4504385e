/**
 * The management HTTP API of one cluster. It tries each node's base URL in turn, starting with the last one that
 * answered, so a dead node never blinds warren. Network errors, timeouts and 5xx move on to the next node; 4xx
 * answers are the same everywhere and are thrown at once. Responses are validated with zod here and nowhere else.
 * This module reads and acts only through the API: it never shells out.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { z } from 'zod';
import type { ClusterConfig } from '../config/schema.js';
import { ManagementApiError, ManagementUnreachableError, RemediationCredentialsError } from '../errors.js';
import { scrub } from '../secrets.js';
import { acceptEncoding } from './accept-encoding.js';
import { decodeErlangTerm } from './erlang-term.js';
import { parseListing, type RejectionSink } from './listing.js';
import { parseRepeatedKeys } from './repeated-keys-json.js';
import {
  type ManagementNode,
  type ManagementOverview,
  nodesSchema,
  overviewSchema,
  pageSchema,
  whoamiSchema,
} from './schemas.js';

export interface ManagementClientOptions {
  timeoutMs?: number;
  /** Told of each listing item left out for failing validation (see listing.ts); default: nobody. */
  onRejected?: RejectionSink;
}

/** A page's envelope: its items are validated one by one, like any listing. */
const pageEnvelopeSchema = pageSchema(z.unknown());

export interface GetOptions {
  /** This request's timeout instead of the client's. */
  timeoutMs?: number;
  /**
   * Ask for the answer as an Erlang term (`application/bert`) rather than JSON; the value returned is the same.
   * For the few large listings: the broker encodes JSON with jsx, in Erlang, at about 1 s per MB on a busy node
   * (7.6 s of a 22 s listing of 30,000 queues), while `term_to_binary` is native and takes a few milliseconds.
   * A broker without it answers JSON, which is read as usual.
   */
  bert?: boolean;
  /**
   * Read the answer as `{ value, repeated }` (repeated-keys-json.ts): the top-level object with a repeated key's
   * first value, and the keys that came again with another value. For a stream's own stats, which RabbitMQ 4.0.5
   * can answer with two different `members` lists; `schema` validates that pair.
   */
  repeatedKeys?: boolean;
}

/** BERT first; the JSON fallback is what a broker that lacks BERT answers (cowboy_rest picks the best it has). */
const BERT_ACCEPT = 'application/bert, application/json;q=0.5';

/**
 * The answer of a `bert` request, by its content type: an Erlang term, or JSON (or text) like axios would give.
 * A term that cannot be read is an unexpected answer, like one that fails validation: the same on every node.
 */
function decodeBody(path: string, response: { status: number; data: unknown; headers: object }): unknown {
  const body = Buffer.isBuffer(response.data) ? response.data : Buffer.from(String(response.data ?? ''));
  const type = String((response.headers as Record<string, unknown>)['content-type'] ?? '');
  if (type.startsWith('application/bert')) {
    try {
      return decodeErlangTerm(body);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ManagementApiError(path, response.status, `unexpected response from ${path}: ${why}`);
    }
  }
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The broker's own explanation of an error answer (its JSON `reason`), else the HTTP status text. */
function brokerReason(response: { data: unknown; statusText?: string }): string {
  return typeof response.data === 'object' && response.data && 'reason' in response.data
    ? String((response.data as { reason: unknown }).reason)
    : String(response.statusText || '');
}

export class ManagementClient {
  readonly cluster: string;
  readonly baseUrls: readonly string[];
  private readonly http: AxiosInstance;
  private preferred = 0;
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Credentials for writes; reads use the (monitoring) management user. */
  private readonly writer?: { username: string; password: string };
  private readonly onRejected: RejectionSink;

  constructor(cluster: ClusterConfig, options: ManagementClientOptions = {}) {
    this.cluster = cluster.name;
    this.baseUrls = cluster.management;
    this.onRejected = options.onRejected ?? (() => undefined);
    if (cluster.remediation) {
      this.writer = { username: cluster.remediation.user, password: cluster.remediation.password };
    }
    this.http = axios.create({
      timeout: options.timeoutMs ?? 10_000,
      auth: { username: cluster.managementUser, password: cluster.managementPassword },
      headers: { accept: 'application/json', ...acceptEncoding(cluster.httpCompression) },
      // Status handling is ours: 4xx/5xx are classified in `request`.
      validateStatus: () => true,
      maxRedirects: 0,
      // Reused sockets: a sweep or a burst of commands would otherwise open a connection per request.
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 8 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 8 }),
    });
  }

  /**
   * GET `path` from whichever node answers; `path` starts with `/api/`. Identical GETs in flight at the same time
   * share one request: a burst of fifty `/rabbit status` costs the broker one /api/nodes, not fifty. Each caller
   * still gets its own validated copy. A listing (`schema` is a `z.array(item)`) is validated item by item: an item
   * that fails is left out and reported (listing.ts), and the others are returned.
   */
  async get<S extends z.ZodType>(
    path: string,
    schema: S,
    params?: Record<string, string | number>,
    options: GetOptions = {},
  ): Promise<z.output<S>> {
    const key = `${params ? `${path}?${JSON.stringify(params)}` : path}${options.bert ? ' bert' : ''}${options.repeatedKeys ? ' repeated' : ''}`;
    return this.validate(path, schema, await this.shared(key, () => this.getBody(path, params, options)));
  }

  /** The body of the identical GET already in flight under `key`, or of a new one. */
  private shared(key: string, load: () => Promise<unknown>): Promise<unknown> {
    let body = this.inflight.get(key);
    if (!body) {
      body = load().finally(() => this.inflight.delete(key));
      this.inflight.set(key, body);
    }
    return body;
  }

  private async getBody(path: string, params: Record<string, string | number> | undefined, options: GetOptions) {
    const attempts: string[] = [];
    // Read once: a concurrent request that succeeds elsewhere moves `preferred`, which must not skip or repeat a node.
    const first = this.preferred;
    for (let i = 0; i < this.baseUrls.length; i++) {
      const index = (first + i) % this.baseUrls.length;
      const base = this.baseUrls[index] as string;
      try {
        const body = await this.request(base, path, params, options);
        this.preferred = index;
        return body;
      } catch (error) {
        if (error instanceof ManagementApiError && error.status !== undefined && error.status < 500) throw error;
        attempts.push(`${base}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new ManagementUnreachableError(this.cluster, attempts);
  }

  /**
   * A change (DELETE, PUT, POST) through whichever node answers. Only network failures move on to the next node:
   * a 5xx may mean the change happened, and every caller's change is idempotent anyway, but it is the caller's
   * call to repeat it. 404 is returned, not thrown, so an idempotent step can tell "already gone".
   */
  async send(
    method: 'DELETE' | 'PUT' | 'POST',
    path: string,
    options: { params?: Record<string, string>; data?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number }> {
    const response = await this.asRemediation(method, path, options);
    return { status: response.status };
  }

  /**
   * A request that needs the remediation user's rights though it changes nothing for good, validated like a GET
   * (a listing item by item). The read path's monitoring user must not have those rights: taking messages off a
   * queue to show them needs read permission on it, which would also let the read path purge it, and the
   * definitions export needs the `administrator` tag. 404 is thrown like any other error answer.
   */
  async readAsRemediation<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    data?: unknown,
  ): Promise<z.output<S>> {
    const response = await this.asRemediation(method, path, { data, headers: { accept: 'application/json' } });
    if (response.status === 404) {
      throw new ManagementApiError(path, 404, `HTTP 404 from ${method} ${path}: ${brokerReason(response)}`);
    }
    return this.validate(path, schema, response.data);
  }

  /** One request with the remediation credentials; 2xx and 404 are returned, other answers thrown. */
  private async asRemediation(
    method: 'GET' | 'DELETE' | 'PUT' | 'POST',
    path: string,
    options: { params?: Record<string, string>; data?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; data: unknown; statusText: string }> {
    if (!this.writer) throw new RemediationCredentialsError(this.cluster);
    const attempts: string[] = [];
    const first = this.preferred;
    for (let i = 0; i < this.baseUrls.length; i++) {
      const index = (first + i) % this.baseUrls.length;
      const base = this.baseUrls[index] as string;
      let response: { status: number; data: unknown; statusText: string };
      try {
        response = await this.http.request({
          method,
          url: `${base}${path}`,
          params: options.params,
          data: options.data,
          // Bodiless endpoints (purge, sync, DELETE of a queue) answer 406 to `accept: application/json` alone.
          headers: { accept: '*/*', ...options.headers },
          auth: this.writer,
        });
      } catch (error) {
        const code = isAxiosError(error) ? (error.code ?? error.message) : String(error);
        attempts.push(`${base}: ${scrub(`${path}: ${code}`)}`);
        continue;
      }
      this.preferred = index;
      if ((response.status >= 200 && response.status < 300) || response.status === 404) return response;
      const reason = brokerReason(response);
      throw new ManagementApiError(
        path,
        response.status,
        scrub(`HTTP ${response.status} from ${method} ${path}: ${reason}`),
        undefined,
        scrub(reason),
      );
    }
    throw new ManagementUnreachableError(this.cluster, attempts);
  }

  /**
   * GET from one specific node, for endpoints that judge the node serving the request (health checks). Shared like
   * `get` with an identical request to the same node in flight.
   */
  async getFrom<S extends z.ZodType>(base: string, path: string, schema: S): Promise<z.output<S>> {
    return this.validate(path, schema, await this.shared(`${base} ${path}`, () => this.request(base, path)));
  }

  /**
   * Every page of a paginated listing (`page_size` at most 500, the broker's maximum), fetched one after the other
   * so memory stays bounded by what the caller keeps, not by the listing. `onPage` sees each page's items.
   */
  async getPages<S extends z.ZodType>(
    path: string,
    item: S,
    params: Record<string, string | number>,
    onPage: (items: z.output<S>[]) => void,
    options: GetOptions = {},
  ): Promise<void> {
    const pageSize = Math.min(500, Number(params.page_size ?? 500));
    for (let page = 1; ; page++) {
      const body = await this.get(path, pageEnvelopeSchema, { ...params, page, page_size: pageSize }, options);
      onPage(parseListing(path, item, body.items, this.onRejected) ?? []);
      if (page >= body.page_count) return;
    }
  }

  /**
   * One of the per-node health endpoints (`/api/health/checks/<name>`) asked of one node: 200 is ok, 503 is a
   * failed check with the broker's reason. Anything else (unreachable, 401, 404 on an older broker) throws.
   */
  async healthCheckOf(base: string, name: string): Promise<{ ok: boolean; reason?: string }> {
    try {
      await this.request(base, `/api/health/checks/${name}`);
      return { ok: true };
    } catch (error) {
      if (error instanceof ManagementApiError && error.status === 503) return { ok: false, reason: error.reason };
      throw error;
    }
  }

  overview(): Promise<ManagementOverview> {
    return this.get('/api/overview', overviewSchema);
  }

  /** Never with `disable_stats`: it drops the alarm and partition fields the checks depend on. */
  nodes(): Promise<ManagementNode[]> {
    return this.get('/api/nodes', nodesSchema);
  }

  /** Cheap liveness probe of the API: true when any node answers with valid credentials. */
  async ping(): Promise<boolean> {
    try {
      await this.get('/api/whoami', whoamiSchema);
      return true;
    } catch {
      return false;
    }
  }

  private async request(
    base: string,
    path: string,
    params?: Record<string, string | number>,
    options: GetOptions = {},
  ): Promise<unknown> {
    const url = `${base}${path}`;
    try {
      const response = await this.http.get(url, {
        params,
        ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
        ...(options.bert ? { headers: { accept: BERT_ACCEPT }, responseType: 'arraybuffer' as const } : {}),
        // axios would JSON.parse the text itself, silently keeping the last of a repeated key
        ...(options.repeatedKeys ? { responseType: 'text' as const, transformResponse: (text: unknown) => text } : {}),
      });
      const ok = response.status >= 200 && response.status < 300;
      const data = options.bert
        ? decodeBody(path, response)
        : options.repeatedKeys
          ? textBody(path, response.data, ok)
          : response.data;
      if (ok) return data;
      const reason = brokerReason({ data, statusText: response.statusText });
      throw new ManagementApiError(
        path,
        response.status,
        scrub(`HTTP ${response.status} from ${path}: ${reason}`),
        undefined,
        scrub(reason),
      );
    } catch (error) {
      if (error instanceof ManagementApiError) throw error;
      const code = isAxiosError(error) ? (error.code ?? error.message) : String(error);
      throw new ManagementApiError(path, undefined, scrub(`${path}: ${code}`), { cause: error });
    }
  }

  private validate<S extends z.ZodType>(path: string, schema: S, body: unknown): z.output<S> {
    if (schema instanceof z.ZodArray) {
      // Not an array at all: reported below like any other wrong answer.
      const items = parseListing(path, schema.element as z.ZodType, body, this.onRejected);
      if (items) return items as z.output<S>;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new ManagementApiError(
        path,
        200,
        `unexpected response from ${path}: ${first?.path.join('.') ?? ''} ${first?.message ?? ''}`.trim(),
      );
    }
    return parsed.data;
  }
}

/** A text answer read as JSON: a success with its repeated keys told; an error body as far as it parses. */
function textBody(path: string, text: unknown, ok: boolean): unknown {
  if (typeof text !== 'string') return text;
  if (ok) return parseRepeatedKeys(path, text);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

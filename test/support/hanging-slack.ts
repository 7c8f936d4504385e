/**
 * A Slack Web API that stops answering for a while: a proxy in front of a FakeSlack's /api/ that forwards every
 * call, except during a hang, when it reads the request and holds it without an answer. Point warren's
 * SLACK_API_URL here; response_url answers (slash-command replies) still go to the fake directly, as they go to a
 * different Slack host.
 *
 * On `recover()` a held call is either dropped (its connection closed: Slack never processed it, so the fake never
 * records it) or, with `{ late: true }`, forwarded (Slack processed it but answered after the client had given up:
 * the fake records it as delivered). The second is the case in which a retry can post twice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeSlack } from './fake-slack.js';

interface HeldRequest {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
}

export class HangingSlack {
  readonly apiUrl: string;
  /** Every call that arrived during a hang, by method. */
  readonly heldMethods: string[] = [];
  private held: HeldRequest[] = [];
  private hanging = false;

  private constructor(
    private readonly server: Server,
    private readonly fake: FakeSlack,
  ) {
    this.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  }

  static async start(fake: FakeSlack): Promise<HangingSlack> {
    let proxy: HangingSlack | undefined;
    const server = createServer((req, res) => {
      void (proxy as HangingSlack).handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new HangingSlack(server, fake);
    return proxy;
  }

  hang(): void {
    this.hanging = true;
  }

  recover(options: { late?: boolean } = {}): void {
    this.hanging = false;
    const held = this.held;
    this.held = [];
    for (const request of held) {
      if (options.late) void this.forward(request);
      else request.res.destroy();
    }
  }

  async stop(): Promise<void> {
    this.recover();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on('error', () => undefined);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = { req, res, body: Buffer.concat(chunks) };
    if (this.hanging) {
      this.heldMethods.push((req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '');
      this.held.push(request);
      return;
    }
    await this.forward(request);
  }

  private async forward({ req, res, body }: HeldRequest): Promise<void> {
    try {
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'authorization']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const answer = await fetch(new URL(req.url ?? '/', this.fake.baseUrl), { method: req.method, headers, body });
      const text = await answer.text();
      if (res.destroyed) return;
      const retryAfter = answer.headers.get('retry-after');
      res.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/json',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      res.end(text);
    } catch {
      res.destroy();
    }
  }
}

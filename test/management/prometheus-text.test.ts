import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueMetricsError } from '../../src/errors.js';
import {
  LineSplitter,
  linesOf,
  prometheusHttp,
  readLabels,
  readMetricLines,
  sampleOf,
} from '../../src/management/prometheus-text.js';

describe('readLabels', () => {
  it('reads plain values and values with every escape the format has', () => {
    const line = 'm{vhost="/",queue="a \\"quoted\\" q\\\\ueue\\nnext",x=""} 1';
    const { labels, end } = readLabels(line, 2);
    expect(labels).toEqual({ vhost: '/', queue: 'a "quoted" q\\ueue\nnext', x: '' });
    expect(line.slice(end)).toBe(' 1');
  });

  it.each([
    ['a value without its closing quote', 'm{queue="q} 1'],
    ['a line ending in a backslash', 'm{queue="q\\'],
    ['labels without their closing brace', 'm{queue="q"'],
  ])('refuses %s', (_, line) => {
    expect(() => readLabels(line, 2)).toThrow(QueueMetricsError);
  });
});

describe('sampleOf', () => {
  const wanted = new Set(['rabbitmq_a', 'rabbitmq_b']);

  it('reads a wanted sample with or without labels, and a timestamp after the value', () => {
    expect(sampleOf('rabbitmq_a{q="x"} 3 1700000000000', wanted)).toEqual({
      metric: 'rabbitmq_a',
      labels: { q: 'x' },
      value: 3,
    });
    expect(sampleOf('rabbitmq_b 7.5', wanted)).toEqual({ metric: 'rabbitmq_b', labels: {}, value: 7.5 });
  });

  it('passes over comments, other metrics and blank lines without reading them', () => {
    expect(sampleOf('# TYPE rabbitmq_a gauge', wanted)).toBeUndefined();
    expect(sampleOf('rabbitmq_c{broken 1', wanted)).toBeUndefined();
    expect(sampleOf('', wanted)).toBeUndefined();
  });

  it('refuses a wanted sample whose value is not a number, quoting the line', () => {
    expect(() => sampleOf('rabbitmq_a{q="x"} many', wanted)).toThrow(/rabbitmq_a\{q="x"\} many/);
  });
});

describe('LineSplitter', () => {
  it('gives the same lines however the text is cut into chunks, multi-byte characters included', () => {
    const text = 'first line\nqueue="é✓"\n\nlast without newline';
    const bytes = Buffer.from(text);
    for (let size = 1; size <= bytes.length; size++) {
      const lines: string[] = [];
      const splitter = new LineSplitter((line) => lines.push(line));
      for (let at = 0; at < bytes.length; at += size) splitter.push(bytes.subarray(at, at + size));
      splitter.end();
      expect(lines).toEqual([...linesOf(text)]);
    }
  });
});

describe('readMetricLines', () => {
  let server: Server | undefined;
  let stalled: ServerResponse | undefined;

  afterEach(async () => {
    stalled?.destroy();
    stalled = undefined;
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  /** A local server whose answer `respond` writes; returns its URL. */
  async function serve(respond: (res: ServerResponse) => void): Promise<string> {
    server = createServer((_req, res) => respond(res));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  }

  it('gives every line of an answer written in pieces', async () => {
    const url = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('rabbitmq_a{q="x"} 1\nrabbit');
      setImmediate(() => res.end('mq_a{q="y"} 2\n'));
    });
    const lines: string[] = [];
    await readMetricLines(prometheusHttp(), url, (line) => lines.push(line), 5_000);
    expect(lines).toEqual(['rabbitmq_a{q="x"} 1', 'rabbitmq_a{q="y"} 2']);
  });

  it('says which URL answered what, with the hint for a broker without /metrics/detailed', async () => {
    const url = await serve((res) => {
      res.writeHead(404);
      res.end('Not Found');
    });
    await expect(readMetricLines(prometheusHttp(), url, () => {}, 5_000)).rejects.toThrow(
      `${url} answered HTTP 404 (RabbitMQ before 3.10 has no /metrics/detailed)`,
    );
  });

  it('ends an answer that stops coming within the timeout, which covers the body too', async () => {
    const url = await serve((res) => {
      res.writeHead(200);
      res.write('rabbitmq_a{q="x"} 1\n');
      stalled = res;
    });
    const lines: string[] = [];
    const read = readMetricLines(prometheusHttp(), url, (line) => lines.push(line), 300);
    await expect(read).rejects.toThrow(`${url} did not finish its answer within 300 ms`);
    expect(lines).toEqual(['rabbitmq_a{q="x"} 1']);
  });

  it('names the URL when a line cannot be read, and stops reading', async () => {
    const url = await serve((res) => {
      res.writeHead(200);
      res.end('rabbitmq_a{q="x"} many\nrabbitmq_a{q="y"} 2\n');
    });
    const wanted = new Set(['rabbitmq_a']);
    const seen: string[] = [];
    const read = readMetricLines(
      prometheusHttp(),
      url,
      (line) => {
        seen.push(line);
        sampleOf(line, wanted);
      },
      5_000,
    );
    await expect(read).rejects.toThrow(`${url}: unreadable sample "rabbitmq_a{q="x"} many"`);
    expect(seen).toEqual(['rabbitmq_a{q="x"} many']);
  });

  it('says a refused connection is one, without a stack of axios internals', async () => {
    const url = await serve(() => {});
    await new Promise((resolve) => server?.close(resolve));
    await expect(readMetricLines(prometheusHttp(), url, () => {}, 5_000)).rejects.toThrow(
      `${url} did not answer: ECONNREFUSED`,
    );
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { registerSecret, scrub, scrubDeep } from '../src/secrets.js';

describe('scrub', () => {
  it('masks URL credentials, Slack tokens and registered secrets', () => {
    registerSecret('pa55-word-xyz');
    expect(scrub('amqp://nova:hunter2@10.0.0.1:5672/')).toBe('amqp://nova:***@10.0.0.1:5672/');
    expect(scrub('token xoxb-123-456-abc and xapp-1-A-2')).toBe('token *** and ***');
    expect(scrub('login failed for pa55-word-xyz')).toBe('login failed for ***');
  });

  it('masks secret-named keys deeply and survives cycles', () => {
    const value: Record<string, unknown> = { managementPassword: 'x1y2', nested: { token: 'abc', ok: 'fine' } };
    value.self = value;
    expect(scrubDeep(value)).toEqual({
      managementPassword: '***',
      nested: { token: '***', ok: 'fine' },
      self: '[Circular]',
    });
  });
});

describe('logger', () => {
  it('never writes secrets, whether in the message, the object or an error', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    registerSecret('s3cr3t-value');
    const logger = createLogger('info', sink);
    logger.info({ url: 'http://admin:s3cr3t-value@host', password: 'whatever' }, 'connecting with s3cr3t-value');
    logger.error({ err: new Error('auth failed: xoxb-999-888') }, 'boom');
    expect(out).not.toContain('s3cr3t-value');
    expect(out).not.toContain('whatever');
    expect(out).not.toContain('xoxb-999');
    expect(out).toContain('connecting with ***');
    expect(out).toContain('auth failed: ***');
  });
});

import { describe, expect, it } from 'vitest';
import { ManagementApiError } from '../../src/errors.js';
import { parseRepeatedKeys } from '../../src/management/repeated-keys-json.js';

describe('parseRepeatedKeys', () => {
  it("keeps a repeated key's first value and names it, as RabbitMQ 4.0 answers a stream whose replicas changed", () => {
    // The shape of a real answer after `rabbitmq-streams delete_replica s rabbit3`: current values first, then
    // the removed replica's stale stats (messages doubled)
    const text =
      '{"leader":"rabbit1@h","members":["rabbit1@h","rabbit2@h"],"members":["rabbit1@h","rabbit2@h","rabbit3@h"],' +
      '"messages":3000,"messages":6000,"online":["rabbit1@h","rabbit2@h"],"online":["rabbit1@h","rabbit2@h","rabbit3@h"]}';
    expect(JSON.parse(text).members).toHaveLength(3);
    expect(parseRepeatedKeys('/api/queues/%2F/s', text)).toEqual({
      value: {
        leader: 'rabbit1@h',
        members: ['rabbit1@h', 'rabbit2@h'],
        messages: 3000,
        online: ['rabbit1@h', 'rabbit2@h'],
      },
      repeated: ['members', 'messages', 'online'],
    });
    // a key repeated with the same value is no ambiguity
    expect(parseRepeatedKeys('/p', '{"a":[1],"b":2,"a":[1]}')).toEqual({ value: { a: [1], b: 2 }, repeated: [] });
  });

  it('reads any other JSON exactly as JSON.parse does: nesting, escapes, brackets inside strings, spaces', () => {
    const samples = [
      '{}',
      ' { "a" : 1 , "b" : [ 1, { "c": "}]\\"{" } ], "d": null, "e": true, "f": -1.5e3, "g": {"h": {"i": []}} } ',
      '[{"a":1},{"a":1}]',
      '"text"',
      '42',
      '{"a":"\\\\","b":"x\\u0041"}',
    ];
    for (const text of samples)
      expect(parseRepeatedKeys('/p', text)).toEqual({ value: JSON.parse(text), repeated: [] });
  });

  it('refuses text that is not JSON with a coded error naming the path, whatever the broken part', () => {
    for (const text of ['', '{', '{"a":1', '{"a" 1}', '{"a":[1,2}', '{a:1}', '{"a":1,}', 'nope', '{"a":tru}']) {
      const attempt = () => parseRepeatedKeys('/api/queues/%2F/s', text);
      expect(attempt, text).toThrow(ManagementApiError);
      expect(attempt, text).toThrow(/\/api\/queues\/%2F\/s/);
    }
  });
});

/**
 * Property-based fuzzing of the config loader (fast-check): valid configs with one key changed to anything, random
 * YAML documents and random text. Loading either succeeds or fails with a ConfigError listing problems that each
 * name a key path and say what is wrong — never another exception, never a secret in the message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const RUNS = { mutated: 1_500, yaml: 750, text: 750 };
const SECRET = 'fuzz-config-secret-4711';
// biome-ignore lint/suspicious/noTemplateCurlyInString: warren's own ${VAR} substitution, not a JS template
const PASSWORD_REF = '${RABBIT_PASSWORD}';
const dir = mkdtempSync(join(tmpdir(), 'warren-config-fuzz-'));
const file = join(dir, 'warren.yaml');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valid = {
  clusters: [
    {
      name: 'prod',
      amqp: [`amqp://warren:${PASSWORD_REF}@rabbit-1:5672`],
      management: ['http://rabbit-1:15672'],
      managementUser: 'warren-monitor',
      managementPassword: PASSWORD_REF,
    },
  ],
  slack: { command: '/rabbit', alertChannel: 'C0123ALERTS' },
  access: { operators: ['U0123OPS'], approvers: ['U0456LEAD'] },
  health: { interval: '30s', thresholds: { backlogMessages: 500 } },
  tap: { bindings: [{ exchange: 'nova', routingKeys: ['notifications.error'] }] },
  remediation: { approvalTtl: '15m' },
};

/** Every key path of the valid config, to pick one to change. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}
const allPaths = paths(valid).filter((p) => p.length > 0);

function loadsSafely(text: string): void {
  writeFileSync(file, text);
  try {
    loadConfig({ env: { WARREN_CONFIG: file, RABBIT_PASSWORD: SECRET }, cwd: dir });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      // The root has the empty path (printed as "(root)"): only a document that is not a mapping is wrong there.
      if (problem.path === '') expect(problem.message).toMatch(/^expected object/);
      expect(problem.message.length).toBeGreaterThan(0);
    }
    expect(JSON.stringify(problems)).not.toContain(SECRET);
  }
}

describe('config loader under fuzzing', () => {
  it('loads the valid config as it stands', () => {
    writeFileSync(file, stringify(valid));
    expect(loadConfig({ env: { WARREN_CONFIG: file, RABBIT_PASSWORD: SECRET }, cwd: dir }).clusters).toHaveLength(1);
  });

  it('reports a valid config with any one key changed or removed as problems with key paths', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...allPaths),
        // Secrets arrive through ${VAR}; one put anywhere must never be quoted back.
        fc.option(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.constant(PASSWORD_REF)), { nil: undefined }),
        (path, value) => {
          const config = structuredClone(valid) as Record<string | number, unknown>;
          let parent = config as Record<string | number, unknown>;
          for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
          const last = path.at(-1) as string | number;
          if (value === undefined) delete parent[last];
          else parent[last] = value;
          loadsSafely(stringify(config));
        },
      ),
      { numRuns: RUNS.mutated },
    );
  }, 60_000);

  it('reports random YAML documents and random text as problems, never crashing', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => loadsSafely(stringify(value))),
      { numRuns: RUNS.yaml },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => loadsSafely(text)),
      { numRuns: RUNS.text },
    );
  }, 60_000);
});

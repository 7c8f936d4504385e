/**
 * The image cannot be built here (no Docker engine), so the Dockerfile is kept true by reading it: what it
 * copies exists and is not ignored, it runs what `npm run build` produces, as a non-root user, with a health check
 * on the route warren serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const lines = readFileSync(resolve(root, 'Dockerfile'), 'utf8')
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('#'));
const ignored = readFileSync(resolve(root, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
const stages = lines.reduce<string[][]>((acc, line) => {
  if (line.startsWith('FROM ')) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];
const tsconfig = JSON.parse(readFileSync(resolve(root, 'tsconfig.json'), 'utf8')) as { include: string[] };
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };

describe('Dockerfile', () => {
  it('builds in one stage and runs in another, on the Node major version warren supports', () => {
    expect(stages).toHaveLength(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM node:20-/);
    expect(runtime.some((l) => l.startsWith('COPY --from=build'))).toBe(true);
    expect(runtime.some((l) => /^RUN npm (ci|install)/.test(l))).toBe(false);
  });

  it('copies every source tree the TypeScript build includes, none of them ignored', () => {
    const copied = stages[0]
      ?.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))
      .flatMap((l) => l.split(/\s+/).slice(1, -1)) as string[];
    for (const source of copied) {
      expect(existsSync(resolve(root, source)), source).toBe(true);
      expect(ignored, source).not.toContain(source);
    }
    for (const tree of tsconfig.include) expect(copied).toContain(tree);
  });

  it('runs the built CLI as a non-root user, with a health check on /healthz', () => {
    const user = runtime.find((l) => l.startsWith('USER '))?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)$/);
    const entrypoint = JSON.parse(runtime.find((l) => l.startsWith('ENTRYPOINT '))?.slice(11) ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', pkg.bin.warren]);
    expect(JSON.parse(runtime.find((l) => l.startsWith('CMD '))?.slice(4) ?? '[]')).toEqual(['start']);
    expect(runtime.find((l) => l.startsWith('HEALTHCHECK '))).toMatch(/\/healthz/);
  });
});

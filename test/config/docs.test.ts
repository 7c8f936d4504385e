/** docs/configuration.md must describe every key and variable the schema accepts, so the two cannot drift. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { envSchema, fileSchema } from '../../src/config/schema.js';

const doc = readFileSync(resolve(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional)
      s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else return s;
  }
}

function keyPaths(schema: z.ZodType, prefix: string): string[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodArray) {
    const element = unwrap(s.element as z.ZodType);
    return element instanceof z.ZodObject ? keyPaths(element, `${prefix}[]`) : [prefix];
  }
  if (!(s instanceof z.ZodObject)) return [prefix];
  const shape = s.shape as Record<string, z.ZodType>;
  const children = Object.entries(shape).flatMap(([key, child]) => keyPaths(child, prefix ? `${prefix}.${key}` : key));
  return children.length > 0 ? children : [prefix];
}

describe('docs/configuration.md', () => {
  it('documents every file key', () => {
    const paths = keyPaths(fileSchema, '');
    expect(paths.length).toBeGreaterThan(10);
    const missing = paths.filter((p) => !doc.includes(`\`${p}\``));
    expect(missing).toEqual([]);
  });

  it('documents every environment variable', () => {
    const missing = Object.keys(envSchema.shape).filter((k) => !doc.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });
});

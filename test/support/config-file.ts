/** Loading a YAML config as warren does (no environment), and the key-path problems it reports, for config tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-config-'));
let n = 0;

export function loadYaml(yaml: string) {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, yaml);
  return loadConfig({ env: {}, file: path, cwd: dir });
}

/** `path: message` for each problem of the config, or none. */
export function yamlProblems(yaml: string): string[] {
  try {
    loadYaml(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

/**
 * `npm run bench`: runs every benchmark under bench/<name>/index.ts one after the other. Each prints its figures
 * and ends with a line `BENCH <name> <json>`; results are recorded in docs/benchmarks.md. Benchmarks in ON_REQUEST
 * run only when named (`npm run bench -- soak`): the soak takes half an hour.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = import.meta.dirname;
const ON_REQUEST = new Set(['soak']);
const only = process.argv.slice(2);
const benches = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'index.ts')))
  .map((d) => d.name)
  .filter((name) => (only.length === 0 ? !ON_REQUEST.has(name) : only.includes(name)));

if (benches.length === 0) {
  console.log('no benchmarks found under bench/');
}
let failed = 0;
for (const name of benches) {
  console.log(`\n### bench/${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, name, 'index.ts')], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;

/**
 * `npm run demo`'s command line, parsed and checked before anything starts: a wrong option is a usage error (exit 2
 * in main.ts), never a stack started for nothing. Pure apart from reading argv and the environment it is given.
 */
import { parseArgs } from 'node:util';
import { RABBITMQ_SERIES, type RabbitmqSeries, seriesFromEnv } from '../devstack/index.js';
import type { DemoOptions } from './demo.js';
import { FAULTS, faultNamed, faultUnavailable } from './faults.js';
import { FIX_LOOPS, fixLoopsNamed } from './fix-loop-script.js';
import { defaultLayout, isOsloLayout, OSLO_LAYOUTS } from './oslo-layout.js';
import { isVhostLayout, VHOST_LAYOUTS } from './service-vhosts.js';

export const DEMO_USAGE =
  'usage: npm run demo -- [--rabbitmq 3.10|4.0] [--layout classic|kolla] [--vhosts shared|per-service] [--fault NAME]... ' +
  '[--script smoke|LOOP[,LOOP...]] [--rate N] [--interval 5s]\n' +
  `rabbitmq: ${RABBITMQ_SERIES.join(', ')} (default WARREN_TEST_RABBITMQ, else 3.10)\n` +
  `layout: ${OSLO_LAYOUTS.join(', ')} (default kolla on 4.0, classic on 3.10)\n` +
  'vhosts: shared (default: every service in /), per-service (notifications in /nova, /neutron, /cinder; warren with tap.vhostPerService)\n' +
  `faults: ${FAULTS.map((f) => f.name).join(', ')}\n` +
  `loops: smoke (the zombie loop), ${Object.keys(FIX_LOOPS).join(', ')}\n`;

export class DemoUsageError extends Error {
  override readonly name = 'DemoUsageError';
}

/** The options, or undefined for `--help`; throws DemoUsageError saying what is wrong. */
export function parseDemoOptions(args: string[], env: NodeJS.ProcessEnv = process.env): DemoOptions | undefined {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (error) {
    throw new DemoUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return undefined;
  const rabbitmq = values.rabbitmq ?? seriesOr(env.WARREN_TEST_RABBITMQ);
  if (!(RABBITMQ_SERIES as readonly string[]).includes(rabbitmq)) {
    throw new DemoUsageError(`--rabbitmq takes ${RABBITMQ_SERIES.join(' or ')}, not ${JSON.stringify(rabbitmq)}`);
  }
  const series = rabbitmq as RabbitmqSeries;
  const layout = values.layout ?? defaultLayout(series);
  if (!isOsloLayout(layout)) {
    throw new DemoUsageError(`--layout takes ${OSLO_LAYOUTS.join(' or ')}, not ${JSON.stringify(layout)}`);
  }
  const vhosts = values.vhosts;
  if (!isVhostLayout(vhosts)) {
    throw new DemoUsageError(`--vhosts takes ${VHOST_LAYOUTS.join(' or ')}, not ${JSON.stringify(vhosts)}`);
  }
  for (const name of values.fault) {
    const fault = faultNamed(name);
    if (!fault)
      throw new DemoUsageError(`unknown fault "${name}"; the faults are ${FAULTS.map((f) => f.name).join(', ')}`);
    const unavailable = faultUnavailable(fault, series);
    if (unavailable) throw new DemoUsageError(`--fault ${name}: ${unavailable}`);
  }
  const script = values.script === undefined ? undefined : fixLoopsNamed(values.script);
  if (values.script !== undefined && !script) {
    throw new DemoUsageError(`--script takes smoke or loops, comma-separated: ${Object.keys(FIX_LOOPS).join(', ')}`);
  }
  const rate = Number(values.rate);
  if (values.rate.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 5_000) {
    throw new DemoUsageError('--rate takes a number from 0 to 5000');
  }
  return {
    rabbitmq: series,
    layout,
    vhosts,
    faults: values.fault,
    ...(script ? { script } : {}),
    rate,
    interval: values.interval,
  };
}

/** WARREN_TEST_RABBITMQ as the devstack reads it; a bad value is reported as the option's error would be. */
function seriesOr(value: string | undefined): string {
  try {
    return seriesFromEnv(value);
  } catch {
    throw new DemoUsageError(
      `WARREN_TEST_RABBITMQ must be ${RABBITMQ_SERIES.join(' or ')}, not ${JSON.stringify(value)}`,
    );
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      rabbitmq: { type: 'string' },
      layout: { type: 'string' },
      vhosts: { type: 'string', default: 'shared' },
      fault: { type: 'string', multiple: true, default: [] },
      script: { type: 'string' },
      rate: { type: 'string', default: '20' },
      interval: { type: 'string', default: '5s' },
      help: { type: 'boolean', default: false },
    },
  });
}

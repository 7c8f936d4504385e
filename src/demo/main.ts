/**
 * Entry point of `npm run demo [-- options]`:
 *   --fault NAME      inject a fault once warren runs (repeatable); NAME: zombie, backlog, channel-leak,
 *                     heartbeat, memory-alarm, partition, unsynced-mirror
 *   --script LOOPS    run fault loops unattended (fault, alert, Fix…, approvals, resolved) and exit 0 when
 *                     all completed; LOOPS: smoke (the zombie loop), zombie, heartbeat, memory-alarm, comma-separated
 *   --rate N          notifications per second from the simulated cloud (default 20)
 *   --interval D      health sweep interval (default 5s)
 */
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';
import { FIX_LOOPS, fixLoopsNamed } from './fix-loop-script.js';

const USAGE =
  'usage: npm run demo -- [--fault NAME]... [--script smoke|LOOP[,LOOP...]] [--rate N] [--interval 5s]\n' +
  'faults: zombie, backlog, channel-leak, heartbeat, memory-alarm, partition, unsynced-mirror\n' +
  `loops: smoke (the zombie loop), ${Object.keys(FIX_LOOPS).join(', ')}\n`;

function options() {
  const { values } = parseArgs({
    options: {
      fault: { type: 'string', multiple: true, default: [] },
      script: { type: 'string' },
      rate: { type: 'string', default: '20' },
      interval: { type: 'string', default: '5s' },
      help: { type: 'boolean', default: false },
    },
  });
  const rate = Number(values.rate);
  if (values.help) return undefined;
  const script = values.script === undefined ? undefined : fixLoopsNamed(values.script);
  if (values.script !== undefined && !script) {
    throw new Error(`--script takes smoke or loops, comma-separated: ${Object.keys(FIX_LOOPS).join(', ')}`);
  }
  if (!Number.isFinite(rate) || rate < 0 || rate > 5_000) throw new Error('--rate takes a number from 0 to 5000');
  return {
    faults: values.fault,
    ...(script ? { script } : {}),
    rate,
    interval: values.interval,
  };
}

let parsed: ReturnType<typeof options>;
try {
  parsed = options();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}
if (!parsed) {
  process.stdout.write(USAGE);
  process.exit(0);
}
process.exitCode = await runDemo(parsed);

/**
 * Entry point of `npm run demo [-- options]`:
 *   --fault NAME      inject a fault once warren runs (repeatable); NAME: zombie, backlog, channel-leak,
 *                     heartbeat, memory-alarm, partition, unsynced-mirror
 *   --script smoke    run the zombie loop unattended and exit 0 when it completed
 *   --rate N          notifications per second from the simulated cloud (default 20)
 *   --interval D      health sweep interval (default 5s)
 */
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const USAGE =
  'usage: npm run demo -- [--fault NAME]... [--script smoke] [--rate N] [--interval 5s]\n' +
  'faults: zombie, backlog, channel-leak, heartbeat, memory-alarm, partition, unsynced-mirror\n';

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
  if (values.script !== undefined && values.script !== 'smoke') throw new Error('--script takes smoke');
  if (!Number.isFinite(rate) || rate < 0 || rate > 5_000) throw new Error('--rate takes a number from 0 to 5000');
  return {
    faults: values.fault,
    script: values.script as 'smoke' | undefined,
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

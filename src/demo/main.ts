/**
 * Entry point of `npm run demo [-- options]`:
 *   --rabbitmq S      which RabbitMQ the local stack runs: 3.10 or 4.0 (default WARREN_TEST_RABBITMQ, else 3.10)
 *   --layout L        how the simulated oslo.messaging lays out its queues: classic, or kolla (quorum queues, the
 *                     queue manager, stream fanout); default kolla on 4.0, classic on 3.10
 *   --vhosts V        shared (every service in /), or per-service: notifications in /nova, /neutron, /cinder and
 *                     warren listening with tap.vhostPerService; default shared
 *   --fault NAME      inject a fault once warren runs (repeatable); NAME: zombie, backlog, channel-leak,
 *                     heartbeat, memory-alarm, partition, unsynced-mirror (not on 4.0)
 *   --script LOOPS    run fault loops unattended (fault, alert, Fix…, approvals, resolved) and exit 0 when
 *                     all completed; LOOPS: smoke (the zombie loop), zombie, heartbeat, memory-alarm, comma-separated
 *   --rate N          notifications per second from the simulated cloud (default 20)
 *   --interval D      health sweep interval (default 5s)
 * A wrong option prints what is wrong and the usage, and exits 2 before anything starts.
 */
import { runDemo } from './demo.js';
import { DEMO_USAGE, parseDemoOptions } from './demo-options.js';

let parsed: ReturnType<typeof parseDemoOptions>;
try {
  parsed = parseDemoOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${DEMO_USAGE}`);
  process.exit(2);
}
if (!parsed) {
  process.stdout.write(DEMO_USAGE);
  process.exit(0);
}
process.exitCode = await runDemo(parsed);

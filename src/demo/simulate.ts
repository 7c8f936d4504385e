/**
 * The traffic simulator on its own, for docker-compose's `demo` profile or any cluster you want to load:
 *   RABBITMQ_URL=amqp://user:pass@host-1:5672,amqp://user:pass@host-2:5672 SIM_RATE=20 node dist/src/demo/simulate.js
 * SIM_LAYOUT=classic|kolla picks the oslo layout (oslo-layout.ts); default classic.
 * Runs until SIGINT or SIGTERM, then closes its connections and stops its RPC servers.
 */
import { isOsloLayout } from './oslo-layout.js';
import { TrafficSimulator } from './traffic-simulator.js';

const urls = (process.env.RABBITMQ_URL ?? '')
  .split(',')
  .map((u) => u.trim())
  .filter(Boolean);
const rate = Number(process.env.SIM_RATE ?? 20);
const layout = process.env.SIM_LAYOUT || 'classic';
if (urls.length === 0 || !Number.isFinite(rate) || rate < 0 || !isOsloLayout(layout)) {
  process.stderr.write(
    'usage: RABBITMQ_URL=amqp://…[,amqp://…] [SIM_RATE=20] [SIM_LAYOUT=classic|kolla] simulate.js\n',
  );
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`${line}\n`);
// A broker that is still starting (compose) refuses connections for a while: retry the start.
let simulator: TrafficSimulator | undefined;
for (let attempt = 1; !simulator; attempt++) {
  const candidate = new TrafficSimulator({ amqpUrls: urls, rate, layout, log });
  try {
    await candidate.start();
    simulator = candidate;
  } catch (error) {
    await candidate.stop();
    if (attempt >= 30) throw error;
    log(`simulator: the broker is not ready (${error instanceof Error ? error.message : error}); retrying in 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}
const running = simulator;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}

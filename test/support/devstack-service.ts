/**
 * The devstack's stand-in for what a node's host offers node control, for tests: `start NODE` launches the node's VM
 * (returning once it is up, not once it has booted, like a service manager of type simple), `stop NODE` kills it
 * (kill -9, which ends a VM hung in its boot too), and `ctl TOOL NODE ACTION…` runs rabbitmqctl (or
 * another of RabbitMQ's CLIs) as the node's user with the node's own environment, as `ssh host sudo
 * rabbitmqctl` would: the offline commands work on a stopped node's files and need its paths. The stack comes from the description file that WARREN_DEVSTACK_DESCRIPTION names. Run
 * with `node --import tsx`.
 */
import { readFileSync } from 'node:fs';
import { attachLocalStack, type LocalStackDescription, RABBIT_CLIS, type RabbitCli } from '../../src/devstack/index.js';

const [action, ...words] = process.argv.slice(2);
const tool = action === 'ctl' ? (words.shift() as RabbitCli) : undefined;
const [node, ...rest] = words;
const file = process.env.WARREN_DEVSTACK_DESCRIPTION;
if (
  (action !== 'start' && action !== 'stop' && !(action === 'ctl' && RABBIT_CLIS.includes(tool as RabbitCli))) ||
  !node ||
  !file
) {
  process.stderr.write(
    `usage: WARREN_DEVSTACK_DESCRIPTION=FILE devstack-service start|stop NODE | ctl ${RABBIT_CLIS.join('|')} NODE ACTION…\n`,
  );
  process.exit(64);
}
const stack = attachLocalStack(JSON.parse(readFileSync(file, 'utf8')) as LocalStackDescription);
try {
  if (action === 'ctl') {
    const result = await stack.rabbitmqctlAsNode(node, rest, { timeoutMs: 120_000, tool: tool as RabbitCli });
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.exit(result.code);
  }
  if (action === 'start') await stack.launchNode(node);
  else await stack.killNode(node);
  process.stdout.write(`${action} ${node}: done\n`);
  // The VM's wrapper is our child: without an explicit exit its handle keeps this process alive as long as the node.
  process.exit(0);
} catch (error) {
  process.stderr.write(`${action} ${node}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

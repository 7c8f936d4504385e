/**
 * The devstack's stand-in for a node's service manager, for `nodeControl.service` in tests: `start NODE` launches the
 * node's VM (returning once it is up, not once it has booted, like a service manager of type simple), `stop NODE`
 * kills it (kill -9, which ends a VM hung in its boot too). The stack comes from the description file that
 * WARREN_DEVSTACK_DESCRIPTION names. Run with `node --import tsx`.
 */
import { readFileSync } from 'node:fs';
import { attachLocalStack, type LocalStackDescription } from '../../src/devstack/index.js';

const [action, node] = process.argv.slice(2);
const file = process.env.WARREN_DEVSTACK_DESCRIPTION;
if ((action !== 'start' && action !== 'stop') || !node || !file) {
  process.stderr.write('usage: WARREN_DEVSTACK_DESCRIPTION=FILE devstack-service start|stop NODE\n');
  process.exit(64);
}
const stack = attachLocalStack(JSON.parse(readFileSync(file, 'utf8')) as LocalStackDescription);
try {
  if (action === 'start') await stack.launchNode(node);
  else await stack.killNode(node);
  process.stdout.write(`${action} ${node}: done\n`);
  // The VM's wrapper is our child: without an explicit exit its handle keeps this process alive as long as the node.
  process.exit(0);
} catch (error) {
  process.stderr.write(`${action} ${node}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

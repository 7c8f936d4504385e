/**
 * `npm run demo`: a local 3-node RabbitMQ cluster and Redis, a simulated OpenStack cloud on it, and warren watching
 * it — in the terminal (the console front end) or in Slack when Slack credentials are set. Faults are injected by
 * `--fault NAME` or the console's `/fault NAME`; `--script smoke` runs the zombie loop unattended (inject, alert,
 * Fix…, a second person's approval, resolution) and exits 0 when it completed, `--script heartbeat,memory-alarm`
 * those loops in turn (a critical workflow's two approvals included). Ctrl-C, `/quit` or the end of the
 * script stops warren, the simulator and the stack, leaving no process and no temporary directory behind.
 * `--rabbitmq 3.10|4.0` picks the broker through the devstack, as the tests do; `--layout classic|kolla` how the
 * simulated oslo lays out its queues. A fault that cannot happen on that broker is listed and refused with the reason.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import type { ConsoleCommand } from '../chat/console-front-end.js';
import { loadConfig } from '../config/load.js';
import { type LocalStack, type RabbitmqSeries, registerExitCleanup, startLocalStack } from '../devstack/index.js';
import { createLogger } from '../logger.js';
import { startWarren, type Warren } from '../warren.js';
import { FAULTS, type FaultContext, faultNamed, faultUnavailable } from './faults.js';
import { type FixLoop, runFixLoops } from './fix-loop-script.js';
import type { OsloLayout } from './oslo-layout.js';
import { createServiceVhosts, DEMO_VHOST_PER_SERVICE, serviceVhosts, type VhostLayout } from './service-vhosts.js';
import { TrafficSimulator } from './traffic-simulator.js';

export const DEMO_OPERATOR = 'U0CONSOLE';
export const DEMO_APPROVERS = ['U0ALICE', 'U0BOB'];

export interface DemoOptions {
  /** Which RabbitMQ the local stack runs. */
  rabbitmq: RabbitmqSeries;
  /** How the simulated oslo lays out its queues. */
  layout: OsloLayout;
  /** All services in `/`, or each service's notifications in a vhost of its own (service-vhosts.ts). */
  vhosts: VhostLayout;
  faults: string[];
  /** Fault loops to run unattended (`--script`), then exit. */
  script?: FixLoop[];
  /** Notifications per second from the simulator. */
  rate: number;
  /** Health sweep interval. */
  interval: string;
}

const say = (line: string) => process.stderr.write(`[demo] ${line}\n`);

function demoConfigYaml(stack: LocalStack, options: DemoOptions): string {
  return stringify({
    clusters: [
      {
        name: 'demo',
        amqp: stack.nodes.map((n) => n.amqpUrl),
        management: stack.nodes.map((n) => n.managementUrl),
        managementUser: stack.username,
        // Filled from the environment at load, so the file on disk holds no secret.
        // biome-ignore lint/suspicious/noTemplateCurlyInString: warren's own ${VAR} substitution, not a JS template
        managementPassword: '${WARREN_DEMO_PASSWORD}',
        // The local stack has one (administrator) user; a real deployment gives remediation its own.
        remediationUser: stack.username,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: warren's own ${VAR} substitution, not a JS template
        remediationPassword: '${WARREN_DEMO_PASSWORD}',
        nodeControl: {
          command: [...stack.rabbitmq.rabbitmqctl, '-n', '{node}', '{action}'],
          env: { HOME: stack.cookieHome },
          timeout: '2m',
        },
      },
    ],
    access: { operators: [DEMO_OPERATOR, ...DEMO_APPROVERS], approvers: DEMO_APPROVERS },
    ...(options.vhosts === 'per-service' ? { tap: { vhostPerService: DEMO_VHOST_PER_SERVICE } } : {}),
    health: { interval: options.interval, defaultFor: 2 },
  });
}

function guide(slash: string, consoleMode: boolean, options: DemoOptions): string {
  const fault = consoleMode ? '/fault' : 'fault';
  const available = FAULTS.filter((f) => !faultUnavailable(f, options.rabbitmq));
  return [
    '',
    `warren demo: a 3-node RabbitMQ ${options.rabbitmq} cluster, Redis, a small OpenStack cloud (nova, neutron, cinder; ${options.layout} oslo layout) and warren.`,
    consoleMode ? 'Type at the prompt, as you would in Slack:' : 'In Slack, try:',
    `  ${slash} status                      the cluster at a glance`,
    `  ${slash} connections --by service    the simulated OpenStack services and their connections`,
    `  ${slash} health                      run every check now`,
    `Break something (${consoleMode ? 'here' : 'type it in this terminal'}):`,
    `  ${fault} zombie                       kill nova-compute hard: a zombie fanout queue, its alert and Fix…`,
    `  ${fault}s                             every fault: ${available.map((f) => f.name).join(', ')}`,
    `  ${fault} clear NAME                   undo a fault by hand`,
    consoleMode
      ? `You are ${DEMO_OPERATOR} (an operator). Approvals need someone else: /as ${DEMO_APPROVERS[0]} (or ${DEMO_APPROVERS[1]}), then press the button's number; critical runs (partition, memory-alarm) need both.`
      : `Operators: ${DEMO_OPERATOR} and ${DEMO_APPROVERS.join(', ')}: set access in your own warren.yaml for real users.`,
    `Ctrl-C${consoleMode ? ' or /quit' : ''} stops everything and removes the stack.`,
    '',
  ].join('\n');
}

/**
 * `/fault NAME`, `/fault clear NAME`, `/faults`: the same for the console and for the terminal in Slack mode. A
 * fault the stack's RabbitMQ cannot have is listed with the reason, and refused with it.
 */
export function faultCommands(context: FaultContext): Record<string, ConsoleCommand> {
  const series = context.stack.rabbitmq.series;
  const list: ConsoleCommand = {
    help: '                 list the faults the demo can inject',
    async run(_args, write) {
      for (const f of FAULTS) write(`  ${f.name.padEnd(16)} ${faultUnavailable(f, series) ?? f.summary}`);
    },
  };
  const fault: ConsoleCommand = {
    help: 'NAME | clear NAME  inject a fault into the demo cloud, or undo it',
    async run(args, write) {
      const clear = args[0] === 'clear';
      const name = clear ? args[1] : args[0];
      const found = name ? faultNamed(name) : undefined;
      if (!found) {
        write(`usage: /fault NAME | /fault clear NAME, NAME one of ${FAULTS.map((f) => f.name).join(', ')}`);
        return;
      }
      const unavailable = faultUnavailable(found, series);
      if (unavailable) {
        write(`fault ${found.name} refused: ${unavailable}`);
        return;
      }
      try {
        write(`fault ${found.name}: ${clear ? await found.clear(context) : await found.inject(context)}`);
      } catch (error) {
        write(`fault ${found.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
  return { '/fault': fault, '/faults': list };
}

export async function runDemo(options: DemoOptions): Promise<number> {
  for (const name of options.faults) {
    const found = faultNamed(name);
    const unavailable = found && faultUnavailable(found, options.rabbitmq);
    if (!found || unavailable) {
      say(
        unavailable
          ? `--fault ${name}: ${unavailable}`
          : `unknown fault "${name}"; the faults are ${FAULTS.map((f) => f.name).join(', ')}`,
      );
      return 2;
    }
  }
  say(
    `starting a local 3-node RabbitMQ ${options.rabbitmq} cluster and Redis (about 30 s; installs what is missing the first time)`,
  );
  // The demo orders its own shutdown (warren, then the simulator, then the stack) instead of the stack's hooks.
  const stack = await startLocalStack({ log: say, keepAfterExit: true, rabbitmq: options.rabbitmq });
  let warren: Warren | undefined;
  let simulator: TrafficSimulator | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      say('stopping warren, the simulator and the stack');
      await warren?.stop().catch((error) => say(`warren stop: ${error}`));
      await simulator?.stop().catch((error) => say(`simulator stop: ${error}`));
      await stack.stop();
      say('stopped; nothing left behind');
    })();
    return stopping;
  };
  const unregister = registerExitCleanup({ stop: stopAll, killSync: () => stack.killSync() });
  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    finished = resolve;
  });

  try {
    if (options.vhosts === 'per-service') say(`service vhosts ${(await createServiceVhosts(stack)).join(', ')}`);
    simulator = new TrafficSimulator({
      amqpUrls: stack.nodes.map((n) => n.amqpUrl),
      rate: options.rate,
      layout: options.layout,
      ...(options.vhosts === 'per-service' ? { serviceVhosts: serviceVhosts() } : {}),
      log: say,
    });
    await simulator.start();
    const context: FaultContext = { stack, simulator, held: {} };

    const file = join(stack.baseDir, 'warren-demo.yaml');
    writeFileSync(file, demoConfigYaml(stack, options));
    const config = loadConfig({
      file,
      env: { ...process.env, WARREN_DEMO_PASSWORD: stack.password, REDIS_URL: stack.redisUrl },
    });
    const consoleMode = config.slack.mode === 'console';
    const commands = faultCommands(context);

    // The script types into the console and reads what it prints, exactly as a person would.
    const scripted = options.script !== undefined && options.script.length > 0;
    const input = scripted ? new PassThrough() : process.stdin;
    const output = scripted ? new PassThrough() : process.stdout;
    if (scripted && !consoleMode) {
      say('--script runs in the console: unset the SLACK_* variables');
      await stopAll();
      return 2;
    }
    warren = await startWarren(config, {
      logger: createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn', process.stderr),
      input,
      output,
      consoleCommands: commands,
      // A script ends by typing /quit whether it passed or not: its own result is the exit code, not the close.
      onConsoleClose: () => {
        if (!scripted) finished(0);
      },
    });
    if (!consoleMode) {
      // In Slack mode this terminal takes the fault commands only.
      const { createInterface } = await import('node:readline');
      createInterface({ input: process.stdin, terminal: false }).on('line', (line) => {
        const [head = '', ...rest] = line.trim().split(/\s+/);
        const command = commands[head.startsWith('/') ? head : `/${head}`];
        if (command) void command.run(rest, (text) => process.stdout.write(`${text}\n`));
        else if (head) process.stdout.write('type: fault NAME, fault clear NAME or faults\n');
      });
    }
    process.stdout.write(guide(config.slack.command, consoleMode, options));
    for (const name of options.faults) {
      await commands['/fault']?.run([name], (text) => process.stdout.write(`${text}\n`));
    }
    if (scripted) {
      const ok = await runFixLoops(
        {
          input: input as PassThrough,
          output: output as PassThrough,
          echo: (text) => process.stdout.write(text),
          inject: (name) =>
            commands['/fault']?.run([name], (text) => process.stdout.write(`${text}\n`)) as Promise<void>,
          operator: DEMO_OPERATOR,
          approvers: DEMO_APPROVERS,
          log: say,
        },
        options.script ?? [],
      );
      finished(ok ? 0 : 1);
    }
    const code = await done;
    await stopAll();
    return code;
  } catch (error) {
    say(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll();
    return 1;
  } finally {
    unregister();
  }
}

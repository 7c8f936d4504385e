/**
 * Owns the process-wide exit hooks that stop running stacks when the process is interrupted (SIGINT, SIGTERM, SIGHUP)
 * or exits without having stopped them. Listeners are installed only while at least one target is registered, so a
 * process without a running stack keeps Node's default signal behaviour. Must not know what a stack is made of.
 */

export interface CleanupTarget {
  /** Graceful, asynchronous stop. */
  stop(): Promise<void>;
  /** Best effort for the 'exit' event, where nothing asynchronous runs: SIGKILL and synchronous removal. */
  killSync(): void;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const targets = new Set<CleanupTarget>();
let stopping = false;

function onExit(): void {
  for (const target of [...targets]) {
    try {
      target.killSync();
    } catch {
      // keep going: every target deserves its attempt
    }
  }
  targets.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    // second Ctrl-C while stopping gracefully: give up on grace
    onExit();
    reraise(signal);
    return;
  }
  stopping = true;
  void Promise.allSettled([...targets].map((t) => t.stop())).then(() => {
    stopping = false;
    // a target whose stop() failed is still registered: fall back to force
    onExit();
    reraise(signal);
  });
}

/**
 * Our listener replaced Node's default action (terminate); restore it once the stacks are down, unless somebody
 * else (e.g. the test runner) listens for the signal and so decides what it means.
 */
function reraise(signal: NodeJS.Signals): void {
  uninstall();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  process.removeListener('exit', onExit);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

/**
 * Registers a target to be stopped on SIGINT/SIGTERM/SIGHUP and killed on process exit; returns the function that
 * unregisters it (a stack calls it at the end of its own stop()).
 */
export function registerExitCleanup(target: CleanupTarget): () => void {
  if (targets.size === 0) install();
  targets.add(target);
  return () => {
    targets.delete(target);
    if (targets.size === 0) uninstall();
  };
}

/**
 * A node as everything warren can ask sees it, for the workflows that must not act on a node that is only cut off
 * (forget-node, force-boot): every management URL (any of them may be on either side of a partition), whether one
 * answers from the node itself, and node control's own view of its rabbit application. `clusterViews` is the one way
 * the node workflows ask each URL for its node and its listing.
 */
import { z } from 'zod';
import type { ManagementClient } from '../management/management-client.js';
import type { NodeControl } from './node-control.js';
import { pollUntil } from './poll.js';

const overviewSchema = z.looseObject({ node: z.string() });
const nodesSchema = z.array(
  z.looseObject({ name: z.string(), running: z.boolean().optional(), partitions: z.array(z.string()).optional() }),
);
export type ListedNode = z.infer<typeof nodesSchema>[number];

/** What one management URL answers: the node behind it, and the cluster's nodes as that node sees them. */
export interface ClusterView {
  url: string;
  via: string;
  nodes: ListedNode[];
}

/**
 * Every management URL that answers, asked at once, in the configured order; a URL that is down, or on a node that
 * is, is left out. During a partition each side's URLs answer with their own side's view.
 */
export async function clusterViews(management: ManagementClient): Promise<ClusterView[]> {
  const views = await Promise.all(
    management.baseUrls.map(async (url): Promise<ClusterView | undefined> => {
      try {
        const { node: via } = await management.getFrom(url, '/api/overview', overviewSchema);
        const nodes = await management.getFrom(url, '/api/nodes?columns=name,running,partitions', nodesSchema);
        return { url, via, nodes };
      } catch {
        return undefined;
      }
    }),
  );
  return views.filter((view) => view !== undefined);
}

/** The node as everything warren can ask sees it. */
export interface Sighting {
  /** How many management URLs answered. */
  answered: number;
  /** Some answering node lists it as a cluster member. */
  member: boolean;
  /** Answering nodes that list it as running. */
  runningIn: string[];
  /** A management URL answered from the node itself. */
  answersItself: boolean;
  /** The other members some answering node lists as running. */
  running: string[];
  /** Node control's answer: whether its rabbit app runs (or boots), or why the node did not answer. */
  control: AppState;
}

/** Asks every management URL (any of them may be on either side of a partition) and node control. */
export async function sight(management: ManagementClient, control: NodeControl, node: string): Promise<Sighting> {
  const sighting: Sighting = {
    answered: 0,
    member: false,
    runningIn: [],
    answersItself: false,
    running: [],
    control: { running: false, booting: false },
  };
  const running = new Set<string>();
  for (const { via, nodes } of await clusterViews(management)) {
    sighting.answered++;
    if (via === node) sighting.answersItself = true;
    for (const n of nodes) {
      if (n.name === node) {
        sighting.member = true;
        if (n.running === true) sighting.runningIn.push(via);
      } else if (n.running === true) running.add(n.name);
    }
  }
  sighting.running = [...running].sort();
  sighting.control = await appState(control, node);
  return sighting;
}

/**
 * Node control's view of the node: its rabbit app runs; or it does not, and whether it is booting (a boot that
 * waits for its peers, or hangs); or why its VM did not answer.
 */
export type AppState = { running: true } | { running: false; booting: boolean } | { error: string };

/** Waits until node control finds the node's rabbit app running (after a start); whether it did within `ms`. */
export async function runsWithin(control: NodeControl, node: string, ms: number): Promise<boolean> {
  const state = await pollUntil(
    async () => {
      const now = await appState(control, node);
      return 'running' in now && now.running ? now : undefined;
    },
    ms,
    2_000,
  );
  return state !== undefined;
}

export async function appState(control: NodeControl, node: string): Promise<AppState> {
  try {
    if (await control.rabbitRunning(node)) return { running: true };
    // A VM that answered a moment ago and not now is as good as not booting: the next look tells.
    return { running: false, booting: await control.booting(node).catch(() => false) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

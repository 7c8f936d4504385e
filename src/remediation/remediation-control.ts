/**
 * What the chat side may ask of remediation: start a workflow, click on a run's buttons, read the audit trail and
 * the recent runs. The slash commands and the button handlers depend on this interface, not on the engine that
 * implements it (workflow-engine.ts), so that neither imports the other's world.
 */
import type { ChatReply } from '../chat/chat-message.js';
import type { Requester } from '../chatops/requester.js';
import type { AuditEntry } from './audit-log.js';
import type { AnyWorkflowDefinition, WorkflowWords } from './workflow-definition.js';
import type { WorkflowRun } from './workflow-run.js';

export interface StartRequest {
  /** A workflow name, or an alert id (`check@cluster`) whose check names the workflow. */
  target: string;
  /** The words typed after the target, as the front end split them; parsed here, once, by the workflow. */
  words: WorkflowWords;
  cluster?: string;
  dryRun: boolean;
  requester: string;
  channel: string;
}

/** Who clicked a run's button, and on which message (a button's value alone is never trusted). */
export interface Clicker extends Requester {
  messageTs?: string;
}

export interface RemediationControl {
  readonly workflows: readonly AnyWorkflowDefinition[];
  start(request: StartRequest): Promise<ChatReply>;
  approve(runId: string, clicker: Clicker): Promise<ChatReply>;
  reject(runId: string, clicker: Clicker): Promise<ChatReply>;
  resume(runId: string, clicker: Clicker): Promise<ChatReply>;
  abandon(runId: string, clicker: Clicker): Promise<ChatReply>;
  audit(count: number): Promise<AuditEntry[]>;
  runs(count: number): Promise<WorkflowRun[]>;
}

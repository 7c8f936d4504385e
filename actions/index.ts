/**
 * Every button handler, as commands/index.ts lists every subcommand: the alert buttons (Ack, Silence) and the
 * remediation buttons (Fix… on an alert; Approve, Reject, Resume, Abandon on a run). Each side is looked up when a
 * click comes, since health checks or remediation may be off in this warren.
 */
import type { ActionHandler } from '../src/chatops/action-router.js';
import type { HealthControl } from '../src/health/health-monitor.js';
import type { RemediationControl } from '../src/remediation/remediation-control.js';
import { alertActions } from './alert-actions.js';
import { runActions } from './run-actions.js';

export function allActions(
  health: () => HealthControl | undefined,
  remediation: () => RemediationControl | undefined,
): ActionHandler[] {
  return [...alertActions(health), ...runActions(remediation)];
}

/**
 * The buttons of remediation: Approve and Reject on a run's request, Resume and Abandon on an interrupted run, and
 * Fix… on an alert. Each button carries
 * only an id; the engine looks it up in Redis and checks that the click comes from the run's own message and
 * channel, so a tampered or replayed payload acts on nothing. Approval rights are the engine's to judge (it
 * refuses with the precise reason), so the router lets every reader through to it.
 */
import type { ActionHandler } from '../src/chatops/action-router.js';
import { RunRefusedError } from '../src/errors.js';
import { ALERT_ACTIONS } from '../src/health/alert-message.js';
import type { RemediationControl } from '../src/remediation/remediation-control.js';
import { RUN_ACTIONS } from '../src/remediation/run-message.js';
import { alertId } from './alert-actions.js';

export function runActions(engine: () => RemediationControl | undefined): ActionHandler[] {
  const control = (): RemediationControl => {
    const e = engine();
    if (!e) throw new RunRefusedError('Remediation is not running in this warren.');
    return e;
  };
  return [
    {
      actionId: RUN_ACTIONS.approve,
      access: 'read',
      handle: (action) => control().approve(action.value, action),
    },
    {
      actionId: RUN_ACTIONS.reject,
      access: 'read',
      handle: (action) => control().reject(action.value, action),
    },
    {
      actionId: RUN_ACTIONS.resume,
      access: 'read',
      handle: (action) => control().resume(action.value, action),
    },
    {
      actionId: RUN_ACTIONS.abandon,
      access: 'read',
      handle: (action) => control().abandon(action.value, action),
    },
    {
      actionId: ALERT_ACTIONS.fix,
      access: 'operate',
      handle(action) {
        return control().start({
          target: alertId(action.value),
          words: { positionals: [], flags: {} },
          dryRun: false,
          requester: action.userId,
          channel: action.channelId,
        });
      },
    },
  ];
}

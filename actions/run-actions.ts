/**
 * The buttons of remediation: Approve and Reject on a run's request, Resume and Abandon on an interrupted run, and
 * Fix… on an alert. Each button carries only an id; the engine looks it up in Redis and checks that the click comes
 * from the run's own message and channel, so a tampered or replayed payload acts on nothing. Approval rights are the
 * engine's to judge (it refuses with the precise reason), so the router lets every reader through to it.
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
  // Each run button names its engine method: the button's value is the run id, the clicker is checked there.
  const runButtons = (Object.keys(RUN_ACTIONS) as (keyof typeof RUN_ACTIONS)[]).map(
    (click): ActionHandler => ({
      actionId: RUN_ACTIONS[click],
      access: 'read',
      handle: (action) => control()[click](action.value, action),
    }),
  );
  return [
    ...runButtons,
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

/**
 * The buttons on an alert message. The button's value is only the alert id; it is checked for shape and looked up
 * in Redis, so a forged or stale click acts on nothing it did not name and is refused with the reason.
 * Ack is open to anyone who may read (it only says who is on it); Silence is for operators.
 */
import { ephemeral } from '../src/chat/chat-message.js';
import type { ActionHandler } from '../src/chatops/action-router.js';
import { UnknownAlertError } from '../src/errors.js';
import { ALERT_ACTIONS } from '../src/health/alert-message.js';
import { formatTime } from '../src/health/health-format.js';
import type { HealthControl } from '../src/health/health-monitor.js';

const ALERT_ID = /^[a-z0-9-]{1,64}@[A-Za-z0-9_.-]{1,64}$/;
const SILENCE_BUTTON_MS = 3_600_000;

/** A button's value as an alert id (`check@cluster`), checked for shape before anything is looked up. */
export function alertId(value: string): string {
  if (!ALERT_ID.test(value)) throw new UnknownAlertError('That button does not name a warren alert.');
  return value;
}

export function alertActions(health: () => HealthControl | undefined): ActionHandler[] {
  const control = (): HealthControl => {
    const h = health();
    if (!h) throw new UnknownAlertError('Health checks are not running in this warren.');
    return h;
  };
  return [
    {
      actionId: ALERT_ACTIONS.ack,
      access: 'read',
      async handle(action) {
        const id = alertId(action.value);
        const result = await control().ack(id, action.userId);
        if (!result.alert) return ephemeral(`There is no alert \`${id}\` (any more).`);
        if (result.already) {
          return ephemeral(
            `\`${id}\` was already acked by <@${result.already.user}> at ${formatTime(result.already.at)}.`,
          );
        }
        if (!result.ack) return ephemeral(`\`${id}\` is no longer firing; nothing to ack.`);
        return ephemeral(`You acked \`${id}\`: the message says you are on it, and reminders stop until it resolves.`);
      },
    },
    {
      actionId: ALERT_ACTIONS.silence,
      access: 'operate',
      async handle(action) {
        const id = alertId(action.value);
        const silence = await control().silence(id, SILENCE_BUTTON_MS, action.userId, 'silenced from the alert');
        return ephemeral(
          `Silenced \`${id}\` until ${formatTime(silence.expiresAt)} (\`${silence.id}\`; end it early with \`unsilence ${silence.id}\`).`,
        );
      },
    },
  ];
}

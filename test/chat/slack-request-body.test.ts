import { describe, expect, it } from 'vitest';
import { slackBodyProblem } from '../../src/chat/slack-request-body.js';
import { ErrorCode } from '../../src/errors.js';
import { blockActionsPayload, interactionBody, slashCommandBody } from '../support/slack-signing.js';

const FORM = 'application/x-www-form-urlencoded';

describe('slackBodyProblem', () => {
  it('accepts what Slack sends: slash commands, interactions, events, ssl_check and url_verification', () => {
    const command = slashCommandBody({ text: 'status', user_id: 'U1', channel_id: 'C1', response_url: 'https://x/' });
    const click = interactionBody(
      blockActionsPayload({
        user_id: 'U1',
        channel_id: 'C1',
        action_id: 'warren:alert:ack',
        value: 'a',
        response_url: 'https://x/',
      }),
    );
    expect(slackBodyProblem(FORM, command)).toBeUndefined();
    expect(slackBodyProblem(FORM, click)).toBeUndefined();
    expect(slackBodyProblem(FORM, 'ssl_check=1&token=t')).toBeUndefined();
    expect(slackBodyProblem(FORM, '')).toBeUndefined();
    expect(slackBodyProblem('application/json', '{"type":"url_verification","challenge":"c"}')).toBeUndefined();
    expect(
      slackBodyProblem('application/json', '{"type":"event_callback","event":{"type":"app_mention"}}'),
    ).toBeUndefined();
  });

  it.each([
    [FORM, 'payload=null', 'the interaction payload is null, not a JSON object'],
    [FORM, 'payload=true', 'the interaction payload is a boolean, not a JSON object'],
    [FORM, 'payload=-1.5', 'the interaction payload is a number, not a JSON object'],
    [FORM, 'payload=%22x%22', 'the interaction payload is a string, not a JSON object'],
    [FORM, 'payload=%5B%7B%7D%5D', 'the interaction payload is a list, not a JSON object'],
    [FORM, 'payload=', 'the interaction payload is not JSON'],
    [FORM, 'payload=%7B%7D&payload=%7B%7D', 'a form field is given more than once'],
    [FORM, 'command=%2Frabbit&user_id=U1&user_id=U2', 'a form field is given more than once'],
    ['application/json', 'null', 'the JSON body is null, not an object'],
    ['application/json', '"x"', 'the JSON body is a string, not an object'],
    ['application/json', '{', 'the body is neither a form nor JSON'],
    // Bolt parses anything that is not exactly the form type as JSON, so must this.
    [`${FORM}; charset=utf-8`, 'payload=null', 'the body is neither a form nor JSON'],
    [undefined, 'null', 'the JSON body is null, not an object'],
  ])('refuses %s %j', (contentType, body, reason) => {
    const problem = slackBodyProblem(contentType, body);
    expect(problem?.code).toBe(ErrorCode.MalformedSlackRequestError);
    expect(problem?.message).toBe(reason);
  });

  it('never quotes the body in its reason', () => {
    const secretish = 'xoxb-0000-never-echo';
    expect(slackBodyProblem(FORM, `payload=${encodeURIComponent(JSON.stringify(secretish))}`)?.message).not.toContain(
      secretish,
    );
    expect(slackBodyProblem('application/json', `{${secretish}`)?.message).not.toContain(secretish);
  });
});

/**
 * Runs around every integration test file: watches the stack's password and the harness's Slack secrets, and fails
 * the file when any of them appeared in a log line or in anything sent to the fake Slack.
 */
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { secretLeaks, watchSecret } from './secret-scan.js';
import { HARNESS_BOT_TOKEN, SIGNING_SECRET } from './warren-harness.js';

beforeAll(() => {
  watchSecret(inject('stack').password, SIGNING_SECRET, HARNESS_BOT_TOKEN);
});

afterAll(() => {
  expect(secretLeaks().leaks).toEqual([]);
});

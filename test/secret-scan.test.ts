import { describe, expect, it } from 'vitest';
import { scanForSecrets, scanningLogger, secretLeaks, watchSecret } from './support/secret-scan.js';

describe("the integration suite's secret scan", () => {
  it('catches a watched secret in a log line or a Slack request, and nothing else', () => {
    watchSecret('short', 'scan-test-secret-0042');
    scanForSecrets('a Slack chat.postMessage', JSON.stringify({ text: 'all fine, short' }));
    expect(secretLeaks().leaks).toEqual([]);
    scanForSecrets('a Slack chat.postMessage', JSON.stringify({ text: 'oops scan-test-secret-0042' }));
    // warren's own logger scrubs a secret it knows, but this one was never registered with it: the scan sees it.
    scanningLogger().info({ detail: 'scan-test-secret-0042' }, 'leaky');
    expect(secretLeaks().leaks).toEqual([
      expect.stringMatching(/^a Slack chat.postMessage contains a configured secret \(sca…\)/),
      expect.stringMatching(/^a log line contains a configured secret/),
    ]);
  });
});

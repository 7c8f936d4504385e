import { describe, expect, it } from 'vitest';
import { parseArgv, tokenize } from '../../src/chatops/argv.js';
import type { AlertState } from '../../src/health/alert-state.js';
import { parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { defaultTarget, raiseMemoryWatermarkWorkflow as workflow } from '../../workflows/raise-memory-watermark.js';

const parse = (text: string) => parseWorkflowArgs(workflow, parseArgv(tokenize(text), workflow.booleanFlags));

describe('raise-memory-watermark', () => {
  it('brings a node set below the default back to 0.4, raises others one step, never above 0.7', () => {
    expect(defaultTarget(0.0001)).toBe(0.4);
    expect(defaultTarget(0.4)).toBe(0.5);
    expect(defaultTarget(0.55)).toBe(0.65);
    expect(defaultTarget(0.65)).toBe(0.7);
    expect(defaultTarget(0.7)).toBe(0.7);
  });

  it('takes node names and a fraction of RAM, and refuses anything else with a reason', () => {
    expect(parse('rabbit@a rabbit@a rabbit@b --to 0.55').data).toEqual({ nodes: ['rabbit@a', 'rabbit@b'], to: 0.55 });
    expect(parse('').data).toEqual({ nodes: [] });
    const refused = (text: string) =>
      parse(text)
        .error?.issues.map((i) => i.message)
        .join('; ');
    expect(refused('--to 0.75')).toMatch(/at most 0.7/);
    expect(refused('--to 0.05')).toMatch(/at least 0.1/);
    expect(refused('--to 50%')).toMatch(/fraction of RAM/);
    expect(refused('rabbit')).toMatch(/named like rabbit@host/);
    expect(refused('--force')).toMatch(/takes only --to/);
    expect(workflow.risk).toBe('critical');
    expect(workflow.needsNodeControl).toBe(true);
  });

  it("fixes the alert's memory-alarmed nodes, not its disk-alarmed ones or the blocked publishers", () => {
    const finding = (subject: string, data: Record<string, unknown>) => ({
      check: 'alarms',
      severity: 'critical' as const,
      subject,
      summary: '',
      details: [],
      data,
    });
    const alert = {
      findings: [
        finding('rabbit@a', { node: 'rabbit@a', alarms: ['memory'] }),
        finding('rabbit@b', { node: 'rabbit@b', alarms: ['disk'] }),
        finding('rabbit@c', { node: 'rabbit@c', alarms: ['memory', 'disk'] }),
        finding('blocked-publishers', { blocked: 3, blocking: 0, connections: [] }),
      ],
    } as unknown as AlertState;
    expect(workflow.argsForAlert?.(alert)).toEqual({ nodes: ['rabbit@a', 'rabbit@c'] });
  });
});

/**
 * Alerting with real receivers: a local webhook receiver (node:http) and a local SMTP server
 * (smtp-server). A rule notifies once when it starts firing and once when it resolves; a channel
 * that is down gets the notice when it comes back (retries with backoff, short in tests); one that
 * keeps failing is given up and counted; events and the daily report reach their channels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { announceChange } from '../../../src/monitoring/alerts/admin-events.js';
import { Alerting, type AlertingDeps } from '../../../src/monitoring/alerts/alerting.js';
import { parseAlertsDocument } from '../../../src/monitoring/alerts/alerts-config.js';
import type { MonitorReport } from '../../../src/monitoring/report.js';
import { SoleLeader } from '../../../src/state/alert-state.js';
import { FileAlertStates } from '../../../src/state/embedded/alert-states.js';
import { type Mailbox, startSmtp, startWebhook, type Webhook } from '../../helpers/receivers.js';
import { report } from './fixtures.js';

const log = createLogger('silent');
const known = { hasModel: () => true, hasRoute: () => true };
const FAST = { baseMs: 20, maxMs: 100, retryForMs: 2_000, maxQueued: 100 };

const work = mkdtempSync(join(tmpdir(), 'croupier-alerting-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let hook: Webhook;
let slack: Webhook;
let smtp: Mailbox;
beforeAll(async () => {
  [hook, slack, smtp] = await Promise.all([startWebhook(), startWebhook(), startSmtp()]);
});
afterAll(async () => {
  await Promise.all([hook.close(), slack.close(), smtp.close()]);
});

const opened: Alerting[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
  hook.received.length = 0;
  slack.received.length = 0;
  smtp.messages.length = 0;
  hook.failNext(0);
});

function alerting(doc: Record<string, unknown>, current: { report: MonitorReport }, extra: Partial<AlertingDeps> = {}) {
  const metrics = new Metrics();
  const a = new Alerting({
    config: parseAlertsDocument(
      {
        channels: {
          hook: { type: 'webhook', url: hook.url },
          slack: { type: 'webhook', url: slack.url, format: 'slack' },
          mail: { type: 'email', smtp: smtp.url, from: 'croupier@example.test', to: ['risk@example.test'] },
        },
        ...doc,
      },
      known,
    ),
    report: async () => current.report,
    leadership: new SoleLeader(),
    states: new FileAlertStates(mkdtempSync(join(work, 'state-'))),
    metrics,
    log,
    intervalMs: 15_000,
    delivery: FAST,
    ...extra,
  });
  opened.push(a);
  return { a, metrics };
}

const driftRule = { name: 'fraud-drift', when: 'drift', model: 'fraud', threshold: 0.2, window: '1h', minRows: 500 };
const value = async (metrics: Metrics, name: string, labels: string): Promise<number> => {
  const line = (await metrics.registry.getSingleMetricAsString(name))
    .split('\n')
    .find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
};

describe('alerting', () => {
  it('notifies once when a rule starts firing and once when it resolves, never again while in one state', async () => {
    const current = { report: report({ psi: 0.01 }) };
    const { a, metrics } = alerting({ rules: [{ ...driftRule, channels: ['hook'] }] }, current);
    expect(await a.evaluate()).toEqual([]);
    current.report = report({ psi: 0.3 });
    expect((await a.evaluate()).map((t) => t.state)).toEqual(['firing']);
    expect(await a.evaluate()).toEqual([]);
    expect(await a.evaluate()).toEqual([]);
    expect(await value(metrics, 'croupier_alerts_firing', 'rule="fraud-drift"')).toBe(1);
    // No data (the PSI is null) is no resolution.
    current.report = report({ psi: null });
    expect(await a.evaluate()).toEqual([]);
    current.report = report({ psi: 0.05 });
    expect((await a.evaluate()).map((t) => t.state)).toEqual(['resolved']);
    expect(await a.evaluate()).toEqual([]);
    await a.idle();
    expect(hook.received).toEqual([
      {
        kind: 'alert',
        rule: 'fraud-drift',
        state: 'firing',
        summary: expect.stringContaining('fraud v1 amount PSI 0.3'),
        details: expect.objectContaining({ when: 'drift', model: 'fraud', version: '1', feature: 'amount', psi: 0.3 }),
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
      expect.objectContaining({ kind: 'alert', rule: 'fraud-drift', state: 'resolved' }),
    ]);
    expect(await value(metrics, 'croupier_alerts_firing', 'rule="fraud-drift"')).toBe(0);
    expect(await value(metrics, 'croupier_notifications_total', 'channel="hook",result="sent"')).toBe(2);
    expect((await a.alerts()).map((s) => [s.rule, s.state])).toEqual([['fraud-drift', 'resolved']]);
  });

  it('never fires a rule whose report field is null', async () => {
    const current = { report: report({ psi: null, precision: null }) };
    const precision = {
      name: 'p',
      when: 'label_metric',
      route: 'fraud-scoring',
      metric: 'auc',
      below: 0.9,
      minLabels: 1000,
    };
    const { a } = alerting({ rules: [driftRule, precision], defaultChannels: ['hook'] }, current);
    for (let i = 0; i < 3; i++) expect(await a.evaluate()).toEqual([]);
    await a.idle();
    expect(hook.received).toEqual([]);
  });

  it("sends Slack's incoming-webhook shape to a slack channel", async () => {
    const current = { report: report({ psi: 0.5 }) };
    const { a } = alerting({ rules: [{ ...driftRule, channels: ['slack'] }] }, current);
    await a.evaluate();
    await slack.waitFor(1);
    const body = slack.received[0] as { text: string; blocks: { type: string }[] };
    expect(Object.keys(body).sort()).toEqual(['blocks', 'text']);
    expect(body.text).toContain('FIRING fraud-drift');
    expect(body.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
  });

  it('retries a failing webhook with backoff and delivers when it comes back, without blocking evaluations', async () => {
    const current = { report: report({ psi: 0.5 }) };
    const { a, metrics } = alerting({ rules: [{ ...driftRule, channels: ['hook'] }] }, current);
    const postsBefore = hook.posts;
    hook.failNext(3);
    const t0 = Date.now();
    await a.evaluate();
    // The evaluation returned before any delivery: nothing waits on the channel.
    expect(hook.received).toEqual([]);
    await hook.waitFor(1);
    await a.idle();
    // 20 + 40 + 80 ms of backoff before the fourth try.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(130);
    expect(hook.posts - postsBefore).toBe(4);
    expect(await value(metrics, 'croupier_notifications_total', 'channel="hook",result="retried"')).toBe(3);
    expect(await value(metrics, 'croupier_notifications_total', 'channel="hook",result="sent"')).toBe(1);
  });

  it('gives up on a channel that keeps failing, counted as failed, not retried forever', async () => {
    const current = { report: report({ psi: 0.5 }) };
    const { a, metrics } = alerting({ rules: [{ ...driftRule, channels: ['hook'] }] }, current, {
      delivery: { baseMs: 10, maxMs: 40, retryForMs: 300, maxQueued: 10 },
    });
    hook.failNext(1_000);
    await a.evaluate();
    await a.idle();
    expect(hook.received).toEqual([]);
    expect(await value(metrics, 'croupier_notifications_total', 'channel="hook",result="failed"')).toBe(1);
    const retried = await value(metrics, 'croupier_notifications_total', 'channel="hook",result="retried"');
    expect(retried).toBeGreaterThanOrEqual(3);
    expect(retried).toBeLessThan(20);
  });

  it('e-mails an alert through SMTP, with a text and an HTML part', async () => {
    const current = { report: report({ psi: 0.5 }) };
    const { a } = alerting({ rules: [{ ...driftRule, channels: ['mail'] }] }, current);
    await a.evaluate();
    await smtp.waitFor(1);
    const [m] = smtp.messages;
    expect(m!.from).toBe('croupier@example.test');
    expect(m!.to).toEqual(['risk@example.test']);
    expect(m!.text).toMatch(/^Subject: \[croupier\] firing fraud-drift: drift: fraud v1 amount PSI 0\.5/m);
    expect(m!.text).toContain('Content-Type: text/plain');
    expect(m!.text).toContain('Content-Type: text/html');
  });

  it('sends admin changes to the events channels as they happen', async () => {
    const { a } = alerting({ events: ['hook'] }, { report: report() });
    announceChange(a, { action: 'deploy', actor: 'alice', target: 'fraud', result: 'ok', before: '1', after: '2' });
    announceChange(a, { action: 'deploy', actor: 'alice', target: 'fraud', result: 'noop', before: '2', after: '2' });
    announceChange(a, { action: 'models.list', actor: 'alice', target: null, result: 'ok' });
    announceChange(a, { action: 'routes.put', actor: 'bob', target: 'fraud-scoring', result: 'ok' });
    await a.idle();
    expect(hook.received).toEqual([
      expect.objectContaining({ kind: 'event', event: 'deploy', summary: 'deploy fraud → 2 by alice' }),
      expect.objectContaining({
        kind: 'event',
        event: 'route_change',
        details: expect.objectContaining({ target: 'fraud-scoring' }),
      }),
    ]);
  });

  it('sends the daily report at its time in its time zone, once a day, to e-mail and webhooks', async () => {
    // 07:59 in Paris is 06:59 UTC on 3 Dec.
    let now = Date.UTC(2026, 11, 3, 6, 59);
    const current = { report: report({ psi: 0.5 }) };
    const { a } = alerting(
      {
        rules: [{ ...driftRule, channels: ['hook'] }],
        dailyReport: { at: '08:00', timezone: 'Europe/Paris', channels: ['mail', 'slack'] },
      },
      current,
      { now: () => now },
    );
    await a.evaluate();
    await a.idle();
    expect(smtp.messages).toEqual([]);
    now += 60_000;
    await a.evaluate();
    await a.evaluate();
    await smtp.waitFor(1);
    await slack.waitFor(1);
    await a.idle();
    expect(smtp.messages).toHaveLength(1);
    expect(slack.received).toHaveLength(1);
    const raw = smtp.messages[0]!.text;
    expect(raw).toContain('Subject: [croupier] daily report: Croupier daily report 2026-12-03 (Europe/Paris)');
    expect(raw).toContain('Content-Type: text/html');
    expect(raw).toMatch(/fraud-scoring/);
    expect(raw).toMatch(/FIRING\s+fraud-drift/);
    // The next day, once again.
    now += 86_400_000;
    await a.evaluate();
    await smtp.waitFor(2);
  });

  it('does not send the report of a day whose time had passed when it started', async () => {
    const now = Date.UTC(2026, 11, 3, 9, 0);
    const { a } = alerting(
      { dailyReport: { at: '08:00', channels: ['hook'] } },
      { report: report() },
      { now: () => now },
    );
    await a.evaluate();
    await a.idle();
    expect(hook.received).toEqual([]);
    // POST /admin/report's path: at once.
    expect(await a.sendReport()).toEqual(['hook']);
    await hook.waitFor(1);
    expect(hook.received[0]).toMatchObject({ kind: 'report', details: { date: '2026-12-03', timezone: 'UTC' } });
  });

  it('evaluates on its timer: a rule that starts firing is delivered within one interval', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const current = { report: report({ psi: 0.01 }) };
      const { a } = alerting({ rules: [{ ...driftRule, channels: ['hook'] }] }, current);
      a.start();
      await vi.advanceTimersByTimeAsync(15_000);
      await a.idle();
      expect(hook.received).toEqual([]);
      current.report = report({ psi: 0.9 });
      await vi.advanceTimersByTimeAsync(15_000);
      await hook.waitFor(1);
      expect(hook.received).toEqual([expect.objectContaining({ rule: 'fraud-drift', state: 'firing' })]);
      // Nothing is evaluated before the next tick, and the tick after sends nothing new.
      await vi.advanceTimersByTimeAsync(15_000);
      await a.idle();
      expect(hook.received).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

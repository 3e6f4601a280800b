/**
 * Alerting in the real server: the alerts file is read at start (a bad one stops it with one line),
 * a deploy reaches the `events` channels, and `POST /admin/report` (admin, audited) queues the daily
 * report at once; without a daily report it is a 409 that says what to add.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhook, type Webhook } from '../helpers/receivers.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'alerts-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'croupier-alerts-server-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const admin = (t: TestServer, method: string, path: string, body?: unknown, token: string | null = TOKEN) =>
  fetch(`${t.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('alerting in the server', () => {
  let hook: Webhook;
  let t: TestServer;
  beforeAll(async () => {
    hook = await startWebhook();
    const file = join(dir, 'alerts.json');
    writeFileSync(
      file,
      JSON.stringify({
        channels: { hook: { type: 'webhook', url: hook.url } },
        rules: [{ name: 'fraud-srm', when: 'srm', route: 'fraud-scoring', window: '1h' }],
        events: ['hook'],
        dailyReport: { at: '08:00', channels: ['hook'] },
        defaultChannels: ['hook'],
      }),
    );
    t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN, CROUPIER_ALERTS: file });
  });
  afterAll(async () => {
    await t?.stop();
    await hook?.close();
  });

  it('sends a deploy to the events channels, after it is done', async () => {
    const res = await admin(t, 'POST', '/admin/models/fraud/deploy', { version: '2' });
    expect(res.status).toBe(200);
    await hook.waitFor(1);
    expect(hook.received[0]).toMatchObject({
      kind: 'event',
      event: 'deploy',
      details: { action: 'deploy', actor: 'admin', target: 'fraud' },
    });
  });

  it('POST /admin/report queues the daily report at once, audited; refused without a token', async () => {
    expect((await admin(t, 'POST', '/admin/report', undefined, null)).status).toBe(401);
    const before = hook.received.length;
    const res = await admin(t, 'POST', '/admin/report');
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ queued: ['hook'] });
    await hook.waitFor(before + 1);
    expect(hook.received[before]).toMatchObject({ kind: 'report', summary: expect.stringContaining('daily report') });
    const audit = (await (await admin(t, 'GET', '/admin/audit?limit=5')).json()) as {
      entries: { action: string; result: string }[];
    };
    expect(audit.entries.some((e) => e.action === 'report' && e.result === 'ok')).toBe(true);
  });
});

describe('the server without a daily report, and with a bad alerts file', () => {
  it('answers POST /admin/report with a 409 that names what to add', async () => {
    const t = await startTestServer({ CROUPIER_ADMIN_TOKEN: TOKEN });
    try {
      const res = await admin(t, 'POST', '/admin/report');
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('conflict');
      expect(body.error.message).toContain('"dailyReport"');
    } finally {
      await t.stop();
    }
  });

  it('refuses to start, naming the file, rule and field', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'channels: {ops: {type: webhook, url: "http://127.0.0.1:9/"}}\nrules: [{name: typo, when: srm, route: no-such-route, channels: [ops]}]\n',
    );
    await expect(startTestServer({ CROUPIER_ALERTS: file })).rejects.toThrow(
      `alerts file ${file}: rule "typo".route: no route named "no-such-route"`,
    );
  });
});

describe('alert rules on the monitor of a running server', () => {
  it('a drift rule fires once when the fraud model gets rows unlike its training rows, and /admin/monitor lists it', async () => {
    const hook = await startWebhook();
    const file = join(dir, 'drift-alerts.json');
    writeFileSync(
      file,
      JSON.stringify({
        channels: { hook: { type: 'webhook', url: hook.url } },
        rules: [{ name: 'fraud-drift', when: 'drift', model: 'fraud', threshold: 0.2, window: '1h', minRows: 20 }],
        defaultChannels: ['hook'],
      }),
    );
    const t = await startTestServer({
      CROUPIER_ADMIN_TOKEN: TOKEN,
      CROUPIER_ALERTS: file,
      CROUPIER_ALERT_INTERVAL_MS: '200',
    });
    try {
      // Every feature far above anything in training: every row in each histogram's last bin. The two
      // versions the route serves share the 120 rows; minRows counts per version.
      for (let i = 0; i < 120; i++) {
        const res = await fetch(`${t.url}/v1/predict/fraud-scoring`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ features: Array.from({ length: 32 }, () => 1e6) }),
        });
        expect(res.status).toBe(200);
      }
      await hook.waitFor(1);
      expect(hook.received[0]).toMatchObject({ kind: 'alert', rule: 'fraud-drift', state: 'firing' });
      const monitor = (await (await admin(t, 'GET', '/admin/monitor')).json()) as {
        alerts: { rule: string; state: string }[];
        models: Record<string, Record<string, { drift: { '1h': { rows: number } } }>>;
      };
      expect(monitor.alerts).toEqual([expect.objectContaining({ rule: 'fraud-drift', state: 'firing' })]);
      const rows = Object.values(monitor.models.fraud!).reduce((n, v) => n + v.drift['1h'].rows, 0);
      expect(rows).toBe(120);
      // It stays firing: no second notice.
      await new Promise((r) => setTimeout(r, 600));
      expect(hook.received).toHaveLength(1);
    } finally {
      await t.stop();
      await hook.close();
    }
  });
});

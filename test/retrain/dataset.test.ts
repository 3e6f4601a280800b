/**
 * Training rows on a real server (embedded mode): predictions and outcomes on a route with
 * logFeatures become joined rows, served as NDJSON to admins only, and `croupier export` writes
 * them as Arrow (read back with apache-arrow) or CSV files equal to those rows, dataset.json last.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import { Deadline } from '../../src/cli/deadline.js';
import { exportDataset } from '../../src/cli/export-command.js';
import type { RowJson } from '../../src/retrain/dataset-row.js';
import type { DatasetManifest } from '../../src/retrain/export.js';
import { until } from '../helpers/redis.js';
import { DEMO_MODELS, demoRow, postJson, startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'admin-token-1234';
const VIEWER = 'viewer-token-1234';
const quiet = { isTTY: false, write: () => undefined };
const NAMES = (
  JSON.parse(readFileSync(join(DEMO_MODELS, 'fraud', '1', 'model.json'), 'utf8')) as {
    inputs: { featureNames: string[] }[];
  }
).inputs[0]!.featureNames;
const namedRow = (seed: number): Record<string, number> =>
  Object.fromEntries(demoRow(seed).map((v, j) => [NAMES[j]!, v]));

const work = mkdtempSync(join(tmpdir(), 'croupier-dataset-'));
const routesFile = join(work, 'routes.json');
writeFileSync(
  routesFile,
  JSON.stringify({
    routes: {
      logged: { policy: 'fixed', logFeatures: true, arms: [{ name: 'champion', model: 'fraud', version: 'live' }] },
      plain: { policy: 'fixed', arms: [{ name: 'champion', model: 'fraud', version: 'live' }] },
    },
  }),
);

let t: TestServer;
const admin = (path: string, token = ADMIN): Promise<Response> =>
  fetch(t.url + path, { headers: { authorization: `Bearer ${token}` } });

async function rowsOf(route: string, since = '7d'): Promise<RowJson[]> {
  const res = await admin(`/admin/routes/${route}/dataset?since=${since}`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as RowJson);
}

async function predict(route: string, features: unknown): Promise<{ decision: string; arm: string }> {
  const res = await postJson(`${t.url}/v1/predict/${route}`, { features });
  expect(res.status).toBe(200);
  return (await res.json()) as { decision: string; arm: string };
}

async function feedback(events: unknown[]): Promise<void> {
  const res = await postJson(`${t.url}/v1/feedback`, { events });
  expect(res.status).toBeLessThan(300);
}

function exporting(dir: string, format: 'arrow' | 'csv', route = 'logged'): Promise<DatasetManifest> {
  const deadline = new Deadline(60, 'exporting');
  const client = new AdminClient(t.url, ADMIN, deadline);
  return exportDataset(client, { route, since: '7d', dir, format }, quiet, deadline).finally(() => deadline.clear());
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** RFC 4180 as a reader would take it: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  return records;
}

describe('training rows and croupier export', () => {
  const named: { decision: string; label: unknown }[] = [];
  let arrayDecision = '';

  beforeAll(async () => {
    t = await startTestServer({
      CROUPIER_ROUTES: routesFile,
      CROUPIER_ADMIN_TOKENS: `ops:${ADMIN},look:${VIEWER}:viewer`,
    });
    // Named features, with labels of every kind a client may post (a string makes the label utf8).
    for (let i = 0; i < 6; i++) {
      const d = await predict('logged', namedRow(i));
      named.push({ decision: d.decision, label: i === 5 ? 'fraud' : i % 2 });
    }
    arrayDecision = (await predict('logged', demoRow(9))).decision;
    const plainDecision = (await predict('plain', demoRow(1))).decision;
    const unlabelled = (await predict('logged', demoRow(3))).decision;
    await feedback([
      ...named.map((n, i) => ({ decision: n.decision, reward: i % 2, label: n.label })),
      { decision: arrayDecision, reward: 1, label: true },
      { decision: plainDecision, reward: 1, label: 1 },
      { decision: unlabelled, reward: 0 },
    ]);
    // A second outcome for a decision is a duplicate: it adds no row.
    await feedback([{ decision: named[0]!.decision, reward: 1, label: 1 }]);
    await until('the rows to be written', async () => (await rowsOf('logged')).length === 8, 10_000);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps one joined row per decision with an outcome, on the logFeatures route only', async () => {
    const rows = await rowsOf('logged');
    expect(rows.map((r) => r.decision).sort()).toEqual(
      [...named.map((n) => n.decision), arrayDecision, rows.find((r) => r.label === null)!.decision].sort(),
    );
    const first = rows.find((r) => r.decision === named[0]!.decision)!;
    expect(first).toMatchObject({
      route: 'logged',
      arm: 'champion',
      model: 'fraud',
      propensity: 1,
      reward: 0,
      label: 0,
    });
    expect(first.version).toMatch(/^\d+$/);
    expect(first.features).toEqual(namedRow(0));
    expect(typeof first.score).toBe('number');
    expect(Date.parse(first.outcomeAt)).toBeGreaterThanOrEqual(Date.parse(first.at));
    // An array request's features are named by the manifest's featureNames.
    const byName = rows.find((r) => r.decision === arrayDecision)!;
    expect(Object.keys(byName.features).slice(0, 2)).toEqual(['amount', 'account_age_days']);
    expect(byName.features.amount).toBe(demoRow(9)[0]);
    expect(byName.label).toBe(true);
    // The route without logFeatures kept nothing, and says how to start.
    const plain = await admin('/admin/routes/plain/dataset?since=7d');
    expect(plain.status).toBe(409);
    expect(((await plain.json()) as { error: { message: string } }).error.message).toMatch(/logFeatures/);
  });

  it('streams NDJSON to admins; refuses a bad since, an unknown route, a viewer and no token', async () => {
    const ok = await admin('/admin/routes/logged/dataset?since=1h');
    expect(ok.headers.get('content-type')).toBe('application/x-ndjson');
    expect((await ok.text()).split('\n').filter(Boolean)).toHaveLength(8);
    // A window that ends before these decisions were made is empty, not an error.
    expect(await rowsOf('logged', '2020-01-01T00:00:00Z')).toHaveLength(8);
    for (const since of ['7x', '-1d', 'NaN', '0d', '99999999d']) {
      const res = await admin(`/admin/routes/logged/dataset?since=${encodeURIComponent(since)}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(/^since must be/);
    }
    const unknown = await admin('/admin/routes/nope/dataset?since=7d');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
    const viewer = await admin('/admin/routes/logged/dataset?since=7d', VIEWER);
    expect(viewer.status).toBe(403);
    expect(((await viewer.json()) as { error: { message: string } }).error.message).toMatch(/only an admin/);
    expect((await fetch(`${t.url}/admin/routes/logged/dataset`)).status).toBe(401);
  });

  it('exports Arrow IPC files equal to the rows, with dataset.json naming columns, times and sha256', async () => {
    const dir = join(work, 'arrow');
    const m = await exporting(dir, 'arrow');
    const rows = await rowsOf('logged');
    const manifest = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8')) as DatasetManifest;
    expect(manifest).toEqual(m);
    expect(readdirSync(dir).sort()).toEqual(['dataset.json', 'part-00000.arrow']);
    expect(m).toMatchObject({ format: 'arrow', route: 'logged', rows: 8 });
    const names = m.columns.map((c) => c.name);
    expect(names.slice(0, 8)).toEqual(['decision', 'at', 'route', 'arm', 'model', 'version', 'propensity', 'score']);
    expect(names.slice(-3)).toEqual(['reward', 'label', 'outcomeAt']);
    expect(m.columns.filter((c) => c.role === 'feature').map((c) => c.name)).toEqual(NAMES);
    expect(m.columns.find((c) => c.name === 'amount')).toEqual({ name: 'amount', type: 'float64', role: 'feature' });
    expect(m.columns.find((c) => c.name === 'label')).toEqual({ name: 'label', type: 'utf8', role: 'label' });
    const times = rows.map((r) => Date.parse(r.at));
    expect(m.from).toBe(new Date(Math.min(...times)).toISOString());
    expect(m.to).toBe(new Date(Math.max(...times)).toISOString());
    const file = m.files[0]!;
    expect(file).toMatchObject({ name: 'part-00000.arrow', rows: 8, bytes: readFileSync(join(dir, file.name)).length });
    expect(file.sha256).toBe(sha256(join(dir, file.name)));
    expect(m.sha256).toBe(createHash('sha256').update(file.sha256).digest('hex'));

    const table = tableFromIPC(readFileSync(join(dir, file.name)));
    expect(table.numRows).toBe(8);
    expect(table.schema.fields.map((f) => f.name)).toEqual(names);
    const read = table.toArray().map((r) => r.toJSON() as Record<string, unknown>);
    for (const row of rows) {
      const got = read.find((r) => r.decision === row.decision)!;
      expect(got.at).toBe(Date.parse(row.at));
      expect(got.outcomeAt).toBe(Date.parse(row.outcomeAt));
      expect(got).toMatchObject({ route: row.route, arm: row.arm, model: row.model, version: row.version });
      expect(got.propensity).toBe(row.propensity);
      expect(got.score).toBeCloseTo(row.score!, 12);
      expect(got.reward).toBe(row.reward);
      expect(got.label).toBe(
        row.label === null ? null : typeof row.label === 'string' ? row.label : JSON.stringify(row.label),
      );
      for (const name of NAMES) expect(got[name]).toBe(row.features[name]);
    }
  });

  it('exports CSV (RFC 4180) equal to the rows', async () => {
    const dir = join(work, 'csv');
    const m = await exporting(dir, 'csv');
    const file = join(dir, 'part-00000.csv');
    expect(m.files[0]!.sha256).toBe(sha256(file));
    const [header, ...records] = parseCsv(readFileSync(file, 'utf8'));
    expect(header).toEqual(m.columns.map((c) => c.name));
    expect(records).toHaveLength(8);
    const rows = await rowsOf('logged');
    const col = (name: string): number => header!.indexOf(name);
    for (const row of rows) {
      const rec = records.find((r) => r[0] === row.decision)!;
      expect(rec[col('at')]).toBe(row.at);
      expect(rec[col('outcomeAt')]).toBe(row.outcomeAt);
      expect(Number(rec[col('score')])).toBe(row.score);
      expect(Number(rec[col('reward')])).toBe(row.reward);
      for (const name of NAMES) expect(Number(rec[col(name)])).toBe(row.features[name]);
      expect(rec[col('label')]).toBe(
        row.label === null ? '' : typeof row.label === 'string' ? row.label : JSON.stringify(row.label),
      );
    }
  });
});

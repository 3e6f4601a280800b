/**
 * The dashboard end to end in a real Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against the real server with the demo models and some traffic: sign in as a
 * viewer and as an admin, every page renders with data, a deploy and a rollback clicked in the page
 * happen (checked through the API), and throughout: no request leaves the origin, no console error,
 * no Content-Security-Policy violation. CROUPIER_SCREENSHOTS=1 also writes docs/ui-*.png.
 *
 * Without Chromium the file is skipped with a message; under CI=true that is a failure.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyDemoModels, DEMO_MODELS, postJson, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = process.env.CROUPIER_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOTS = process.env.CROUPIER_SCREENSHOTS === '1';
const ADMIN = 'ui-admin-token-5678';
const VIEWER = 'ui-viewer-token-5678';

if (!HAVE_CHROMIUM) {
  const message = `dashboard browser tests: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`${message}; under CI=true this is a failure, not a skip`);
  console.warn(`${message}: skipped`);
}

interface Baseline {
  inputs: { featureNames: string[] }[];
  baseline: {
    features: Record<string, { min: number; max: number; histogram: { edges: number[]; counts: number[] } }>;
  };
}

/** A seeded generator (mulberry32): the same traffic, and the same screenshots, on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Rows drawn from the fraud model's own baseline (a bin drawn by its count, a value within it), so
 * drift is low, as with a healthy model.
 */
function baselineRows(rand: () => number): () => number[] {
  const manifest = JSON.parse(readFileSync(join(DEMO_MODELS, 'fraud', '1', 'model.json'), 'utf8')) as Baseline;
  return () =>
    manifest.inputs[0]!.featureNames.map((name) => {
      const { min, max, histogram } = manifest.baseline.features[name]!;
      const edges = [min, ...histogram.edges, max];
      const total = histogram.counts.reduce((a, b) => a + b, 0);
      let pick = rand() * total;
      let bin = 0;
      while (bin < histogram.counts.length - 1 && pick >= histogram.counts[bin]!) pick -= histogram.counts[bin++]!;
      return edges[bin]! + rand() * (edges[bin + 1]! - edges[bin]!);
    });
}

/**
 * Decisions and labelled outcomes on the fraud routes, with labels drawn from the score, so
 * calibration is near the diagonal, as with a healthy model.
 */
async function traffic(url: string): Promise<void> {
  const rand = random(17);
  const row = baselineRows(rand);
  for (let i = 0; i < 240; i++) {
    const route = i % 4 === 0 ? 'fraud-ab' : 'fraud-scoring';
    const res = await postJson(`${url}/v1/predict/${route}`, { features: row() });
    const { decision, outputs } = (await res.json()) as { decision: string; outputs: { probability: number[] } };
    if (i % 5 === 4) continue; // some decisions never hear back
    const label = rand() < outputs.probability[0]! ? 1 : 0;
    const answer = await postJson(`${url}/v1/feedback`, { decision, reward: label, label });
    expect(answer.status).toBe(202);
  }
}

/**
 * A route whose guardrail judges the challenger on reward, with a shadow arm beside it. */
const GUARDED = {
  policy: 'fixed',
  arms: [
    { name: 'champion', model: 'fraud', version: '1', weight: 0.5 },
    { name: 'challenger', model: 'fraud', version: '2', weight: 0.5 },
    { name: 'candidate', model: 'fraud', version: '2', shadow: 0.5 },
  ],
  guardrails: { champion: 'champion', checks: ['reward'], minSamples: 40 },
};

interface ArmNow {
  disabled: boolean;
}

async function monitor(url: string): Promise<{
  routes: Record<
    string,
    {
      arms: Record<string, ArmNow>;
      shadows?: Record<string, { windows: Record<string, { shadow: { comparisons: number } }> }>;
    }
  >;
}> {
  const res = await fetch(`${url}/admin/monitor`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Awaited<ReturnType<typeof monitor>>;
}

/**
 * Traffic on fraud-guarded until its real guardrail disables the challenger (the champion is
 * rewarded every other time, the challenger never) and its shadow arm has compared some answers.
 */
async function guardedTraffic(url: string): Promise<void> {
  const rand = random(29);
  const row = baselineRows(rand);
  const deadline = Date.now() + 90_000;
  for (let round = 0; ; round++) {
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await postJson(`${url}/v1/predict/fraud-guarded`, { features: row() });
        expect(res.status).toBe(200);
        return (await res.json()) as { decision: string; arm: string; outputs: { probability: number[] } };
      }),
    );
    // The reward (the business's) favours the champion; the label (fraud or not) follows the score.
    const events = answers.map((a, i) => ({
      decision: a.decision,
      reward: a.arm === 'champion' ? i % 2 : 0,
      label: rand() < a.outputs.probability[0]! ? 1 : 0,
    }));
    expect((await postJson(`${url}/v1/feedback`, { events })).status).toBe(202);
    const now = (await monitor(url)).routes['fraud-guarded']!;
    const compared = now.shadows?.candidate?.windows['1h']?.shadow.comparisons ?? 0;
    if (now.arms.challenger!.disabled && compared > 0) return;
    if (Date.now() > deadline) throw new Error(`the guardrail did not disable the challenger (round ${round})`);
  }
}

/**
 * The demo models plus `ranker`, a copy of ctr v1 whose manifest has neither `baseline` nor
 * `monitor`: a model the monitor can say nothing about, and says why.
 */
function modelsWithRanker(): string {
  const dir = copyDemoModels();
  const manifest = JSON.parse(readFileSync(join(dir, 'ctr', '1', 'model.json'), 'utf8')) as Record<string, unknown>;
  delete manifest.baseline;
  delete manifest.monitor;
  mkdirSync(join(dir, 'ranker', '1'), { recursive: true });
  copyFileSync(join(dir, 'ctr', '1', 'model.onnx'), join(dir, 'ranker', '1', 'model.onnx'));
  writeFileSync(join(dir, 'ranker', '1', 'model.json'), JSON.stringify({ ...manifest, name: 'ranker' }));
  writeFileSync(join(dir, 'ranker', 'LIVE'), '1\n');
  return dir;
}

async function live(t: TestServer, model: string): Promise<string | undefined> {
  const res = await fetch(`${t.url}/admin/models`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const { models } = (await res.json()) as { models: { name: string; live: string }[] };
  return models.find((m) => m.name === model)?.live;
}

describe.skipIf(!HAVE_CHROMIUM)('the dashboard in Chromium', () => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let origin: string;
  const requests: string[] = [];
  const problems: string[] = [];

  let models: string;

  beforeAll(async () => {
    models = modelsWithRanker();
    t = await startTestServer({
      CROUPIER_MODELS_DIR: models,
      CROUPIER_ADMIN_TOKENS: `ops:${ADMIN},owner:${VIEWER}:viewer`,
      // The guardrails judge on the alert loop's beat: a short one, so the challenger is disabled soon.
      CROUPIER_ALERT_INTERVAL_MS: '200',
    });
    origin = t.url;
    const put = await fetch(`${t.url}/admin/routes/fraud-guarded`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(GUARDED),
    });
    expect(put.status).toBe(200);
    await traffic(t.url);
    await guardedTraffic(t.url);
    // One audited action before anyone signs in (deploying the live version: a no-op, audited).
    const noop = await postJson(
      `${t.url}/admin/models/fraud/deploy`,
      { version: '1' },
      { authorization: `Bearer ${ADMIN}` },
    );
    expect(noop.status).toBe(200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // What a machine without internet needs: no sandbox (containers), no GPU, nothing fetched in the background.
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    // Reported by the page itself, in case a violation is not also logged to the console (the
    // browser's code is a string: this file is type-checked without the DOM).
    await context.addInitScript(
      "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))",
    );
    context.on('request', (r) => requests.push(r.url()));
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    if (SCREENSHOTS) mkdirSync(join(ROOT, 'docs'), { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    if (models) rmSync(models, { recursive: true, force: true });
  });

  const shot = async (name: string): Promise<void> => {
    if (SCREENSHOTS) await page.screenshot({ path: join(ROOT, 'docs', `ui-${name}.png`), fullPage: true });
  };

  const signIn = async (token: string): Promise<void> => {
    await page.goto(`${origin}/ui`);
    const field = page.getByLabel('Admin or viewer token');
    await field.fill(token);
    await field.press('Enter');
  };

  it('signs a viewer in with Enter, keeps the token for this tab only, and shows the overview', async () => {
    const response = await page.goto(`${origin}/ui`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in to Croupier' }).isVisible()).toBe(true);
    expect(await page.getByLabel('Admin or viewer token').getAttribute('type')).toBe('password');
    await shot('sign-in');
    // Keyboard only: the field has the focus, Enter signs in.
    await page.keyboard.type(VIEWER);
    await page.keyboard.press('Enter');
    await page.getByText('Signed in as owner (viewer)').waitFor();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('croupier.token')")).toBe(VIEWER);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    // Every route, its arms with numbers, SRM and the alerts.
    for (const route of ['fraud-scoring', 'fraud-ab', 'ctr', 'checkout'])
      await page.getByRole('heading', { name: route, level: 2 }).waitFor();
    const scoring = page.locator('section.route', { has: page.getByRole('heading', { name: 'fraud-scoring' }) });
    const champion = scoring.getByRole('row', { name: /^champion/ });
    await champion.waitFor();
    const cells = await champion.locator('td').allTextContents();
    expect(cells[0]).toMatch(/^fraud v1\s*live/);
    expect(cells[1]).toMatch(/%/); // the allocation in force
    const [pulls, outcomes] = cells[2]!.split(' / ').map((n) => Number(n.replace(/,/g, '')));
    expect(pulls).toBeGreaterThan(0); // in the last hour
    expect(outcomes).toBeGreaterThan(0);
    await expect.poll(() => scoring.getByText(/1h p = /).count()).toBe(1);
    await page.getByRole('heading', { name: /Alerts firing/ }).waitFor();
    // The challenger its guardrail disabled is marked, with why and since in words; the shadow arm
    // has its comparisons, agreement, mean |Δscore| and p99 latency per window.
    const guarded = page.locator('section.route', { has: page.getByRole('heading', { name: 'fraud-guarded' }) });
    const challenger = guarded.getByRole('row', { name: /^challenger/ });
    expect(await challenger.locator('th .badge').textContent()).toBe('disabled by guardrail');
    expect(await guarded.locator('tr.why-row').textContent()).toMatch(
      /^challenger gets no traffic since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: reward: challenger \(2\) worse than champion/,
    );
    const shadows = guarded.getByRole('table', { name: /^Shadow arms of fraud-guarded/ });
    const candidate = (
      await shadows
        .getByRole('row', { name: /^candidate/ })
        .locator('td')
        .allTextContents()
    ).map((c) => c.trim());
    expect(candidate[0]).toBe('fraud v2');
    expect(candidate[1]).toBe('50.0 % of requests');
    expect(Number(candidate[2]!.replace(/,/g, ''))).toBeGreaterThan(0); // comparisons, last hour
    expect(candidate[3]).toMatch(/^\d+\.\d %$/); // agreement
    expect(candidate[4]).toMatch(/^\d(\.\d{3})?$/); // mean |Δscore| (a whole number has no decimals)
    expect(candidate[5]).toMatch(/^[\d,]+(\.\d)? ms$/); // p99 latency
    // A version without "monitor" has no label metrics: the dash says why.
    const checkout = page.locator('section.route', { has: page.getByRole('heading', { name: 'checkout' }) });
    expect(await checkout.locator('tr.why-row').textContent()).toMatch(
      /^No precision, recall or AUC for default: the manifest of checkout@1 has no "monitor"/,
    );
    await shot('overview');
    // Another tab of the same browser does not have the token: it asks again, and says so when a
    // token is wrong (that tab's console, which logs the 401, is not the one watched).
    const other = await context.newPage();
    await other.goto(`${origin}/ui`);
    await other.getByLabel('Admin or viewer token').fill('not-a-token-at-all');
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByText('That token is not accepted.').waitFor();
    expect(await other.evaluate("sessionStorage.getItem('croupier.token')")).toBeNull();
    await other.close();
  });

  it('shows a route with its 24 h charts, its disabled arm (no Enable for a viewer) and its shadow arm', async () => {
    await page.getByRole('link', { name: 'fraud-guarded' }).click();
    await page.getByRole('heading', { name: 'Route fraud-guarded', level: 1 }).waitFor();
    // uPlot draws each chart into a canvas, with a legend naming every arm.
    await expect.poll(() => page.locator('.chart canvas').count()).toBe(2);
    await expect.poll(() => page.locator('.u-legend').first().textContent()).toMatch(/champion.*challenger/s);
    await page.getByRole('heading', { name: 'Arms disabled by guardrails' }).waitFor();
    const item = page.locator('ul.disabled-arms li');
    expect(await item.count()).toBe(1);
    expect(await item.textContent()).toMatch(
      /^challenger \(fraud v2\) gets no traffic since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\. Why: reward: challenger \(2\) worse/,
    );
    expect(await page.getByRole('button', { name: /Enable/ }).count()).toBe(0);
    // A row per window, with the copies scored without scores, shed and failed.
    const shadow = page
      .getByRole('table', { name: /^Shadow arms of fraud-guarded/ })
      .getByRole('row', { name: /^candidate/ });
    expect(await shadow.count()).toBe(2);
    const cells = (await shadow.first().locator('td').allTextContents()).map((c) => c.trim());
    expect(cells.slice(0, 3)).toEqual(['fraud v2', '50.0 % of requests', 'last hour']);
    expect(cells).toHaveLength(3 + 7);
    expect(Number(cells[3]!.replace(/,/g, ''))).toBeGreaterThan(0);
    await shot('route');
  });

  it('shows models, drift bars and calibration to a viewer, with no action buttons', async () => {
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByRole('heading', { name: 'Models', level: 1 }).waitFor();
    const fraud = page.locator('section.model', { has: page.getByRole('heading', { name: 'fraud', exact: true }) });
    await fraud.getByRole('table', { name: 'Versions of fraud' }).waitFor();
    expect(await fraud.getByRole('row', { name: /^1 live/ }).count()).toBe(1);
    expect(await fraud.locator('code.sha').first().getAttribute('title')).toMatch(/^[0-9a-f]{64}$/);
    // Drift per feature as bars, the prediction first; and a calibration plot.
    await fraud.getByRole('table', { name: 'Drift of fraud v1' }).waitFor();
    expect(await fraud.locator('.bar-fill').count()).toBeGreaterThan(10);
    await expect.poll(() => fraud.locator('.chart canvas').count()).toBe(1);
    expect(await page.getByRole('button', { name: /Deploy|Roll back|Enable/ }).count()).toBe(0);
    // Where numbers are missing, the page says why in words.
    await expect
      .poll(() => page.locator('p.no-drift').allTextContents())
      .toContainEqual(expect.stringMatching(/^Drift of ranker v1: – \(the manifest of ranker@1 has no "baseline"/));
    await page.getByText(/^No calibration plot for checkout: the manifest of checkout@1 has no "monitor"/).waitFor();
  });

  it('verifies the audit chain in the page', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Verify the whole chain' }).click();
    await expect.poll(() => page.locator('#chain-verdict').textContent()).toMatch(/^✓ All entries .* intact chain/);
  });

  it('lets an admin deploy and roll back from the Models page, each after a confirm()', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(ADMIN);
    await page.getByText('Signed in as ops (admin)').waitFor();
    await page.getByRole('link', { name: 'Models' }).click();
    const fraud = page.locator('section.model', { has: page.getByRole('heading', { name: 'fraud', exact: true }) });
    const deploy = fraud.getByRole('button', { name: 'Deploy v2' });
    await deploy.waitFor();
    // Dismissed: nothing happens.
    page.once('dialog', (d) => void d.dismiss());
    await deploy.click();
    expect(await live(t, 'fraud')).toBe('1');
    const dialogs: string[] = [];
    page.once('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await deploy.click();
    await page.getByText('Deployed fraud: live is now v2 (was v1).').waitFor();
    expect(await live(t, 'fraud')).toBe('2');
    expect(dialogs[0]).toMatch(/^Deploy fraud version 2\?/);
    const rollback = fraud.getByRole('button', { name: 'Roll back' });
    await rollback.waitFor();
    await shot('models');
    page.once('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await rollback.click();
    await page.getByText('Rolled back fraud: live is now v1 (was v2).').waitFor();
    expect(await live(t, 'fraud')).toBe('1');
    expect(dialogs[1]).toMatch(/^Roll fraud back/);
    // Both are in the audit log, under the admin's name, and the page still finds the chain intact.
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('cell', { name: 'rollback', exact: true }).first().waitFor();
    expect(await page.getByRole('row', { name: /ops deploy fraud/ }).count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#chain-verdict').textContent()).toMatch(/^✓/);
    await shot('audit');
  });

  it('lets an admin enable the arm its guardrail disabled, after a confirm()', async () => {
    const disabled = async (): Promise<boolean> =>
      (await monitor(t.url)).routes['fraud-guarded']!.arms.challenger!.disabled;
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('link', { name: 'fraud-guarded' }).click();
    const enable = page.getByRole('button', { name: 'Enable challenger' });
    await enable.waitFor();
    page.once('dialog', (d) => void d.dismiss());
    await enable.click();
    expect(await disabled()).toBe(true);
    const dialogs: string[] = [];
    page.once('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await enable.click();
    await page.getByText('None: every arm takes traffic.').waitFor();
    expect(dialogs[0]).toMatch(/^Enable arm "challenger" of route "fraud-guarded" again\?/);
    expect(await disabled()).toBe(false);
    expect(await page.getByRole('button', { name: /Enable/ }).count()).toBe(0);
    // And the overview no longer marks it.
    await page.getByRole('link', { name: 'Overview' }).click();
    const guarded = page.locator('section.route', { has: page.getByRole('heading', { name: 'fraud-guarded' }) });
    await guarded.getByRole('row', { name: /^challenger/ }).waitFor();
    expect(await guarded.getByText('disabled by guardrail').count()).toBe(0);
  });

  it('made no request outside its origin, and logged no error and no CSP violation', () => {
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
    expect(problems).toEqual([]);
  });
});

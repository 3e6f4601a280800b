/**
 * The dashboard end to end in a real Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against the real server with the demo models and some traffic: sign in as a
 * viewer and as an admin, every page renders with data, a deploy and a rollback clicked in the page
 * happen (checked through the API), and throughout: no request leaves the origin, no console error,
 * no Content-Security-Policy violation. CROUPIER_SCREENSHOTS=1 also writes docs/ui-*.png.
 *
 * Without Chromium the file is skipped with a message; under CI=true that is a failure.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODELS, postJson, ROOT, startTestServer, type TestServer } from '../helpers/server.js';

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
 * Decisions and labelled outcomes on the fraud routes, with rows drawn from the model's own
 * baseline (a bin drawn by its count, a value within it) and labels drawn from the
 * score, so drift is low and calibration near the diagonal, as with a healthy model.
 */
async function traffic(url: string): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(DEMO_MODELS, 'fraud', '1', 'model.json'), 'utf8')) as Baseline;
  const rand = random(17);
  const row = (): number[] =>
    manifest.inputs[0]!.featureNames.map((name) => {
      const { min, max, histogram } = manifest.baseline.features[name]!;
      const edges = [min, ...histogram.edges, max];
      const total = histogram.counts.reduce((a, b) => a + b, 0);
      let pick = rand() * total;
      let bin = 0;
      while (bin < histogram.counts.length - 1 && pick >= histogram.counts[bin]!) pick -= histogram.counts[bin++]!;
      return edges[bin]! + rand() * (edges[bin + 1]! - edges[bin]!);
    });
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

  beforeAll(async () => {
    t = await startTestServer({ CROUPIER_ADMIN_TOKENS: `ops:${ADMIN},owner:${VIEWER}:viewer` });
    origin = t.url;
    await traffic(t.url);
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
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
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

  it('shows a route with its 24 h charts', async () => {
    await page.getByRole('link', { name: 'fraud-scoring' }).click();
    await page.getByRole('heading', { name: 'Route fraud-scoring', level: 1 }).waitFor();
    // uPlot draws each chart into a canvas, with a legend naming every arm.
    await expect.poll(() => page.locator('.chart canvas').count()).toBe(2);
    await expect.poll(() => page.locator('.u-legend').first().textContent()).toMatch(/champion.*challenger/s);
    await page.getByRole('heading', { name: 'Arms disabled by guardrails' }).waitFor();
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

  it('made no request outside its origin, and logged no error and no CSP violation', () => {
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
    expect(problems).toEqual([]);
  });
});

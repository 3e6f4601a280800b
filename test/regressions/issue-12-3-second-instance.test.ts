/**
 * Issue 12, finding 3: a second Croupier on the same state dir deleted the first one's open journal
 * (100 acknowledged outcomes became 0 after a restart), and on the same port (uWS shares it through
 * SO_REUSEPORT) the kernel split connections between the two. One process owns a state dir and a
 * port: the second is refused at start-up with one clear line and exit code 2.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCroupier, type Child } from '../helpers/process.js';
import { demoRow, postJson } from '../helpers/server.js';

const stateDir = mkdtempSync(join(tmpdir(), 'croupier-issue-12-3-'));
const children: Child[] = [];
afterAll(() => {
  for (const c of children) c.proc.kill('SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

function serve(env: Record<string, string>, port = 0): Child {
  const c = spawnCroupier(['serve', '--port', String(port)], env);
  children.push(c);
  return c;
}

async function rewards(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('croupier_arm_rewards{route="fraud-scoring"'))
    .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
}

describe('issue 12.3: one process owns a state dir and a port', () => {
  it('refuses a second instance on the same state dir or port, and the first keeps every outcome', async () => {
    const first = serve({ CROUPIER_STATE_DIR: stateDir });
    const port = await first.ready;
    const url = `http://127.0.0.1:${port}`;
    const decisions: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = (await (await postJson(`${url}/v1/predict/fraud-scoring`, { features: demoRow(i) })).json()) as {
        decision: string;
      };
      decisions.push(r.decision);
    }
    const fb = await postJson(`${url}/v1/feedback`, { events: decisions.map((decision) => ({ decision, reward: 1 })) });
    expect(fb.status).toBe(202);
    expect(await rewards(url)).toBe(100);

    // Same state dir, another port: refused before touching the directory.
    const sameDir = serve({ CROUPIER_STATE_DIR: stateDir });
    expect(await sameDir.exited).toBe(2);
    const line = sameDir.stderr.join('');
    expect(line).toContain(`${stateDir} is in use by another Croupier (pid ${first.proc.pid}`);
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(stateDir).filter((f) => f.startsWith('journal-')).length).toBeGreaterThan(0);

    // Another state dir, the same port: refused, and every call still reaches the first.
    const samePort = serve({}, port);
    expect(await samePort.exited).toBe(2);
    expect(samePort.stderr.join('')).toContain(`cannot listen on 127.0.0.1:${port}`);
    for (const decision of decisions.slice(0, 40)) {
      expect((await postJson(`${url}/v1/feedback`, { decision, reward: 1 })).status).toBe(200);
    }

    // A clean restart keeps all 100 outcomes.
    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const again = serve({ CROUPIER_STATE_DIR: stateDir });
    const url2 = `http://127.0.0.1:${await again.ready}`;
    expect(await rewards(url2)).toBe(100);

    // A kill -9 leaves no lock behind that a person would have to remove.
    again.proc.kill('SIGKILL');
    await again.exited;
    const afterCrash = serve({ CROUPIER_STATE_DIR: stateDir });
    expect(await rewards(`http://127.0.0.1:${await afterCrash.ready}`)).toBe(100);
    afterCrash.proc.kill('SIGTERM');
    expect(await afterCrash.exited).toBe(0);
  });
});

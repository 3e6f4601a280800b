/**
 * Runs `work` while one client at a time predicts on `url`: the slowest answer that overlapped it,
 * and the longest this process's event loop went without running a 5 ms timer (for a server started
 * in-process, that is the server's own stall).
 */
import { expect } from 'vitest';
import { postJson } from './server.js';

export interface WhilePredicting {
  worstMs: number;
  answers: number;
  stallMs: number;
}

export async function whilePredicting(
  url: string,
  body: unknown,
  work: () => Promise<unknown>,
): Promise<WhilePredicting> {
  let running = true;
  let worstMs = 0;
  let answers = 0;
  const client = (async () => {
    while (running) {
      const started = performance.now();
      const res = await postJson(url, body);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      worstMs = Math.max(worstMs, performance.now() - started);
      answers++;
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  worstMs = 0;
  answers = 0;
  let stallMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(ticker);
    running = false;
    await client;
  }
  return { worstMs, answers, stallMs };
}

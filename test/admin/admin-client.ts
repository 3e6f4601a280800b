/** Admin calls for the tests: real HTTP with fetch, a bearer token, JSON in and out. */
import type { TestServer } from '../helpers/server.js';

export const TOKEN = 'test-admin-token-1234';

export interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

export async function admin(
  t: TestServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  token: string | null = TOKEN,
): Promise<Answer> {
  const h: Record<string, string> = { ...headers };
  if (token !== null) h.authorization = `Bearer ${token}`;
  if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: h,
    body:
      body === undefined
        ? undefined
        : body instanceof Uint8Array || typeof body === 'string'
          ? body
          : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

export async function liveVersion(t: TestServer, model = 'fraud'): Promise<string> {
  const { body } = await admin(t, 'GET', '/admin/models');
  return (body.models as { name: string; live: string }[]).find((m) => m.name === model)!.live;
}

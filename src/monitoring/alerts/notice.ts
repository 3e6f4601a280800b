/**
 * What a channel is sent, and how each kind of channel shows it: the webhook body of the contract
 * (`{"kind", "rule"?, "state"?, "event"?, "summary", "details", "at"}`), Slack's incoming-webhook
 * shape (`{"text", "blocks"}`), and an e-mail (subject, text, simple HTML).
 */

export type EventName = 'deploy' | 'rollback' | 'guardrail_disable' | 'arm_enable' | 'route_change';

export interface Notice {
  readonly kind: 'alert' | 'event' | 'report';
  readonly rule?: string;
  readonly state?: 'firing' | 'resolved';
  readonly event?: EventName;
  readonly summary: string;
  readonly details: Record<string, unknown>;
  /** ISO time. */
  readonly at: string;
  /** The daily report's own text (e-mail body, Slack text); else one is made from the details. */
  readonly text?: string;
}

export function webhookBody(n: Notice): string {
  const { text: _text, ...body } = n;
  return JSON.stringify(body);
}

function title(n: Notice): string {
  if (n.kind === 'alert')
    return `${n.state === 'firing' ? ':rotating_light: FIRING' : ':white_check_mark: RESOLVED'} ${n.rule}`;
  if (n.kind === 'event') return `:information_source: ${n.event}`;
  return ':bar_chart: Croupier daily report';
}

function detailLines(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}

/** Slack's mrkdwn escapes only these three. */
const slackEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackBody(n: Notice): string {
  const head = `${title(n)}: ${n.summary}`;
  const body = n.text ?? detailLines(n.details);
  // A section's text is at most 3000 characters.
  const clipped = body.length > 2900 ? `${body.slice(0, 2900)}\n…` : body;
  return JSON.stringify({
    text: slackEscape(head),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(head)}*` } },
      ...(clipped ? [{ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${slackEscape(clipped)}\`\`\`` } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `croupier · ${n.at}` }] },
    ],
  });
}

const htmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface Mail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export function mail(n: Notice): Mail {
  const label = n.kind === 'alert' ? `${n.state} ${n.rule}` : n.kind === 'event' ? `event ${n.event}` : 'daily report';
  const body = n.text ?? detailLines(n.details);
  // Header injection: a subject is one line.
  const subject = `[croupier] ${label}: ${n.summary}`.replace(/[\r\n]+/g, ' ').slice(0, 200);
  const text = `${n.summary}\n\n${body}\n\n${n.at}\n`;
  const html = `<!doctype html><html><body><h2>${htmlEscape(n.summary)}</h2><pre style="font: 13px monospace">${htmlEscape(body)}</pre><p style="color:#666">${htmlEscape(n.at)}</p></body></html>`;
  return { subject, text, html };
}

/**
 * Sends one notice to one channel: a webhook by a JSON POST with undici, an e-mail through SMTP with
 * nodemailer. A send either resolves (delivered) or throws (the delivery queue retries it).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import { request } from 'undici';
import type { ChannelSpec } from './alerts-config.js';
import { mail, slackBody, webhookBody, type Notice } from './notice.js';

/** A send that takes longer than this failed (and is retried). */
export const SEND_TIMEOUT_MS = 10_000;

export interface Channel {
  readonly name: string;
  send(notice: Notice): Promise<void>;
  close(): void;
}

class WebhookChannel implements Channel {
  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly format: 'json' | 'slack',
  ) {}

  async send(notice: Notice): Promise<void> {
    const body = this.format === 'slack' ? slackBody(notice) : webhookBody(notice);
    const res = await request(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'croupier-alerts' },
      body,
      headersTimeout: SEND_TIMEOUT_MS,
      bodyTimeout: SEND_TIMEOUT_MS,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`webhook answered ${res.statusCode}`);
  }

  close(): void {}
}

class EmailChannel implements Channel {
  private readonly transport: Transporter;

  constructor(
    readonly name: string,
    smtp: string,
    private readonly from: string,
    private readonly to: readonly string[],
  ) {
    this.transport = nodemailer.createTransport({
      url: smtp,
      connectionTimeout: SEND_TIMEOUT_MS,
      greetingTimeout: SEND_TIMEOUT_MS,
      socketTimeout: SEND_TIMEOUT_MS,
    });
  }

  async send(notice: Notice): Promise<void> {
    const m = mail(notice);
    await this.transport.sendMail({
      from: this.from,
      to: [...this.to],
      subject: m.subject,
      text: m.text,
      html: m.html,
    });
  }

  close(): void {
    this.transport.close();
  }
}

export function openChannel(name: string, spec: ChannelSpec): Channel {
  return spec.type === 'webhook'
    ? new WebhookChannel(name, spec.url, spec.format)
    : new EmailChannel(name, spec.smtp, spec.from, spec.to);
}

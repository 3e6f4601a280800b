/**
 * `POST /v1/feedback`, registered through the data plane's extensions. Checks run in the
 * contract's order (413, 415, 400 from the exchange and the protocol; then the state of each
 * decision); no business logic here.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { CroupierError } from '../errors.js';
import type { OutcomeReceiver, Verdict } from '../feedback/feedback.js';
import { parseFeedbackBody, type FeedbackBody } from '../protocol/feedback.js';
import type { OpenExchange } from './data-plane.js';
import type { Exchange } from './exchange.js';

export function feedbackEndpoint(feedback: OutcomeReceiver, bodyLimit: number, isAccepting: () => boolean) {
  return (app: TemplatedApp, open: OpenExchange): void => {
    app.post('/v1/feedback', (res, req) => {
      const ex = open(res, req, 'v1');
      if (!isAccepting()) return ex.fail(new CroupierError('draining'));
      ex.readJson(bodyLimit, (json) => {
        let body: FeedbackBody;
        try {
          body = parseFeedbackBody(json);
        } catch (e) {
          return ex.fail(e);
        }
        feedback.receive(body.events).then((verdicts) => answer(ex, body.batch, verdicts), (e: unknown) => ex.fail(e));
      });
    });
    app.any('/v1/feedback', (res, req) => {
      open(res, req, 'v1').fail(new CroupierError('method_not_allowed', 'use POST on this path'), false, { allow: 'POST' });
    });
  };
}

function answer(ex: Exchange, batch: boolean, verdicts: Verdict[]): void {
  if (!batch) {
    const v = verdicts[0]!;
    if (v.result === 'accepted') return ex.send(202, '{"accepted":1}');
    if (v.result === 'duplicate') return ex.send(200, JSON.stringify({ accepted: 0, result: 'duplicate', message: v.message }));
    return ex.fail(new CroupierError(v.code ?? 'invalid_request', v.message));
  }
  let accepted = 0;
  const results: { index: number; result: string; message: string | undefined }[] = [];
  for (let i = 0; i < verdicts.length; i++) {
    const v = verdicts[i]!;
    if (v.result === 'accepted') accepted++;
    else results.push({ index: i, result: v.result, message: v.message });
  }
  ex.send(accepted > 0 ? 202 : 200, JSON.stringify({ accepted, results }));
}

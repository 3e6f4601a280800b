/**
 * `/v1/feedback`: one event or a batch; a bad single event is a 400, a bad event in a batch is
 * marked and the rest kept.
 */
import { describe, expect, it } from 'vitest';
import { MAX_FEEDBACK_EVENTS, MAX_REWARD, parseFeedbackBody } from '../../src/protocol/feedback.js';
import { invalid, thrown } from './versions.js';

describe('parseFeedbackBody', () => {
  it('takes one event, with a number, boolean or string label or none', () => {
    expect(parseFeedbackBody({ decision: 'd1', reward: 1 })).toEqual({
      batch: false,
      events: [{ decision: 'd1', reward: 1, label: undefined }],
    });
    for (const label of [0.5, true, 'fraud', 's'.repeat(256)]) {
      expect(parseFeedbackBody({ decision: 'd1', reward: -MAX_REWARD, label }).events).toEqual([
        { decision: 'd1', reward: -MAX_REWARD, label },
      ]);
    }
  });

  it.each([
    ['an array', [{ decision: 'd', reward: 1 }], 'must be a JSON object'],
    ['null', null, 'must be a JSON object'],
    ['an unknown key', { decision: 'd', reward: 1, score: 1 }, 'unknown key "score"'],
    ['a numeric decision', { decision: 7, reward: 1 }, '"decision" must be the decision id'],
    ['no reward', { decision: 'd' }, '"reward" must be a finite number'],
    ['a string reward', { decision: 'd', reward: '1' }, '"reward" must be a finite number'],
    ['a NaN reward', { decision: 'd', reward: Number.NaN }, '"reward" must be a finite number'],
    [
      'an infinite reward (JSON 1e400)',
      { decision: 'd', reward: JSON.parse('1e400') },
      '"reward" must be a finite number',
    ],
    [
      'an object label',
      { decision: 'd', reward: 1, label: {} },
      '"label" must be a finite number, a boolean or a string',
    ],
    ['an infinite label', { decision: 'd', reward: 1, label: Number.NEGATIVE_INFINITY }, '"label" must be'],
    ['a label of 257 characters', { decision: 'd', reward: 1, label: 's'.repeat(257) }, '"label" must be'],
    ['a batch with another key', { events: [], decision: 'd' }, 'a batch is {"events": [...]} and nothing else'],
    ['a batch that is not a list', { events: { decision: 'd', reward: 1 } }, '"events" must be a list'],
    [
      'a batch over the limit',
      { events: new Array(MAX_FEEDBACK_EVENTS + 1).fill({ decision: 'd', reward: 1 }) },
      `at most ${MAX_FEEDBACK_EVENTS} events`,
    ],
  ])('refuses %s with 400 invalid_request', (_, body, message) => {
    expect(thrown(() => parseFeedbackBody(body))).toMatchObject(invalid(message));
  });

  it('refuses a reward beyond ±1e15 with its own code, reward_out_of_range', () => {
    for (const reward of [MAX_REWARD * 10, -1e200]) {
      expect(thrown(() => parseFeedbackBody({ decision: 'd', reward }))).toMatchObject({
        code: 'reward_out_of_range',
        status: 400,
      });
    }
  });

  it("keeps a batch's good events and marks each bad one with why (and its code), in order", () => {
    const body = parseFeedbackBody({
      events: [
        { decision: 'a', reward: 1 },
        { decision: 'b', reward: 1e16 },
        'not an event',
        { decision: 'c', reward: 0, label: false },
        { ['k'.repeat(100)]: 1 },
      ],
    });
    expect(body.batch).toBe(true);
    expect(body.events).toEqual([
      { decision: 'a', reward: 1, label: undefined },
      { malformed: expect.stringContaining('beyond ±1e15'), code: 'reward_out_of_range' },
      { malformed: 'an event must be an object with "decision" and "reward"' },
      { decision: 'c', reward: 0, label: false },
      // An unknown key is quoted in at most 64 characters.
      { malformed: expect.stringContaining(`unknown key "${'k'.repeat(64)}" (`) },
    ]);
  });

  it('takes a batch of exactly the limit, and an empty one', () => {
    expect(
      parseFeedbackBody({ events: new Array(MAX_FEEDBACK_EVENTS).fill({ decision: 'd', reward: 0 }) }).events,
    ).toHaveLength(MAX_FEEDBACK_EVENTS);
    expect(parseFeedbackBody({ events: [] })).toEqual({ batch: true, events: [] });
  });
});

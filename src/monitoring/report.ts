/**
 * The shape of `GET /admin/monitor` (the contract's "Monitoring and protection"): what the monitor
 * computes from its windows, what alert rules and guardrails read, what the dashboard shows. One
 * type, so that every reader agrees with the endpoint.
 */
import type { LabelMetrics } from './label-counts.js';
import type { WindowName } from './minute-window.js';
import type { ShadowReport } from './shadow-counts.js';

export interface RewardWindow {
  pulls: number;
  outcomes: number;
  /** Null before the first outcome. */
  meanReward: number | null;
  /** Outcomes that carried a label, with their metrics; absent when the version has no `monitor`. */
  labels?: LabelMetrics;
}

export interface ArmReport {
  model: string;
  version: string;
  /** Disabled by a guardrail: no traffic until a person enables it again. */
  disabled: boolean;
  /** Why the windows have no `labels` (the version has no `monitor`); absent when they have. */
  noLabels?: string;
  /** While disabled: the guardrail's finding, and when (ISO time). */
  disabledReason?: string;
  disabledSince?: string;
  windows: Record<WindowName, RewardWindow>;
}

export interface SrmWindow {
  /** Chi-square p-value of the observed pulls against Σ propensity per arm (1 without evidence). */
  pValue: number;
  /** p < 0.001. */
  srm: boolean;
}

export interface RouteReport {
  srm: Record<WindowName, SrmWindow>;
  arms: Record<string, ArmReport>;
  /** The route's shadow arms (scoring/shadow.ts), when it has any: never chosen, compared with the served answers. */
  shadows?: Record<string, ShadowReport>;
}

export interface DriftWindow {
  /** Rows counted in the window (all of them, or a sample: `sampled`). */
  rows: number;
  sampled: boolean;
  /** PSI per baseline feature; null without rows. */
  features: Record<string, number | null>;
  /** PSI of the monitored score; null without rows or without a prediction baseline. */
  prediction: number | null;
}

export interface AlertState {
  rule: string;
  state: 'firing' | 'resolved';
  /** ISO time the rule entered this state. */
  since: string;
  summary: string;
}

export interface MonitorReport {
  routes: Record<string, RouteReport>;
  /** Per model, per version with a baseline. */
  models: Record<string, Record<string, { drift: Record<WindowName, DriftWindow> }>>;
  /** Per model, per version without drift (absent from `models`): why (no baseline histograms). */
  noDrift?: Record<string, Record<string, string>>;
  alerts: AlertState[];
}

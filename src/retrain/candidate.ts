/**
 * Registering a candidate: its version number (the next after every numeric version the model
 * has), its folder, and the route edit that puts it on a route as a challenger arm.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface ModelsAnswer {
  models: { name: string; live: string; versions: { version: string }[] }[];
}

/** The live version and the next version number of `model` in GET /admin/models's answer. */
export function liveAndNext(answer: ModelsAnswer, model: string): { live: string; next: string } | undefined {
  const m = answer.models.find((x) => x.name === model);
  if (!m) return undefined;
  let highest = 0;
  for (const v of m.versions) if (/^\d{1,15}$/.test(v.version)) highest = Math.max(highest, Number(v.version));
  return { live: m.live, next: String(highest + 1) };
}

/** Writes `<root>/<model>/<version>/` (model.onnx, model.json), the folder a release is packed from. */
export function writeVersionFolder(
  root: string,
  model: string,
  version: string,
  bytes: Uint8Array,
  manifest: Record<string, unknown>,
): string {
  const dir = join(root, model, version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

export interface RouteArm {
  name: string;
  model: string;
  version: string;
  weight?: number;
}
export interface RouteSpecJson {
  policy: string;
  arms: RouteArm[];
  [key: string]: unknown;
}

/**
 * The route with arm `arm` serving `model` `version`: an arm of that name is repointed (its
 * weight kept); otherwise one is added — on a fixed route whose arms are weighted, with weight 0,
 * so that no traffic moves until a person sets it.
 */
export function withChallenger(spec: RouteSpecJson, arm: string, model: string, version: string): RouteSpecJson {
  const arms = spec.arms.map((a) => (a.name === arm ? { ...a, model, version } : a));
  if (!arms.some((a) => a.name === arm)) {
    const weighted = spec.policy === 'fixed' && arms.some((a) => a.weight !== undefined);
    arms.push(weighted ? { name: arm, model, version, weight: 0 } : { name: arm, model, version });
  }
  return { ...spec, arms };
}

/**
 * Why a version has no label metrics or no drift in `/admin/monitor`: the contract lets a manifest
 * leave out `monitor` and the baseline histograms, and a report that only leaves the numbers out
 * reads like "nothing happened". These say what is missing instead, in the report itself.
 */
import type { ModelVersion } from '../registry/repository.js';

/** Why outcomes of `version` have no label metrics; undefined when they have (it has `monitor`). */
export function noLabelsReason(version: ModelVersion | undefined): string | undefined {
  if (version === undefined) return 'the arm names a version that is not loaded';
  if (version.manifest.monitor) return undefined;
  return `the manifest of ${version.key} has no "monitor" (score output, threshold, positive label): its decisions keep no score to join labels with`;
}

/** Why `version` has no drift; call it only for a version whose drift layout is undefined. */
export function noDriftReason(version: ModelVersion): string {
  if (!version.manifest.baseline)
    return `the manifest of ${version.key} has no "baseline": there is nothing to compare its rows with`;
  return `the baseline of ${version.key} has no histogram of a numeric input feature, nor of the prediction (with a score output): PSI needs baseline histograms`;
}

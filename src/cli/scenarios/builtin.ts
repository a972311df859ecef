import { fileURLToPath } from 'node:url';

/** The scenarios `alerting simulate` runs: files of the `alerting test` format, shipped in the package. */
export const BUILTIN_SCENARIOS = [
  'high-failure-rate',
  'high-latency',
  'cost-threshold',
  'cloudwatch-alarm-cycle',
  'flapping',
  'storm',
  'pagerduty-outage',
  'pagerduty-resolve',
] as const;
export type BuiltinScenario = (typeof BUILTIN_SCENARIOS)[number];

export function isBuiltinScenario(name: string): name is BuiltinScenario {
  return (BUILTIN_SCENARIOS as readonly string[]).includes(name);
}

/** Beside this module in src and in dist alike (the build copies the YAML). */
export function builtinScenarioFile(name: BuiltinScenario): string {
  return fileURLToPath(new URL(`./builtin/${name}.yaml`, import.meta.url));
}

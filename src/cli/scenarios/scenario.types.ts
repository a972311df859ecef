import type { StepKind } from './scenario-file.js';

/** `"exact"` or `{ pattern: "regex" }` */
export type TextMatcher = string | { pattern: string };

export interface EventMatcher {
  action?: string;
  dedupKey?: TextMatcher;
  severity?: string;
  summary?: TextMatcher;
  source?: TextMatcher;
  customDetails?: Record<string, unknown>;
  links?: { href?: TextMatcher; text?: TextMatcher }[];
  routingKey?: string;
}

export interface ExpectBody extends EventMatcher {
  notifier?: string;
  within?: string | number;
  count?: number;
  events?: EventMatcher[];
  attempts?: number;
}

export interface Answer {
  status?: number;
  actions?: string | string[];
  outcome?: string;
}

export interface Step {
  kind: StepKind;
  /** position in the file */
  index: number;
  /** `steps[3]` */
  path: string;
  body: Record<string, any> & { name?: string; answer?: Answer };
}

export interface Scenario {
  file: string;
  name: string;
  description?: string;
  /** the service's environment for this file (in process) */
  env: Record<string, string>;
  routing?: { path: string } | { inline: Record<string, unknown> };
  /** `{{run}}`: fresh per run, so reruns against a service never dedup into older incidents */
  runId: string;
  steps: Step[];
}

/**
 * One event as a notifier received it. In process, PagerDuty's come from the fake with
 * their whole body; other notifiers', and every one against a target, from the outbox.
 */
export interface ObservedEvent {
  /** stable across reads: the fake's request number, or the outbox row's id */
  id: string;
  notifier: string;
  action: string;
  dedupKey: string;
  /** the scenario's clock when it was seen (ms since the file started) */
  atMs: number;
  /** the PagerDuty event as sent, when the runner can see it */
  body?: Record<string, any>;
  /** requests the fake answered for this event before it was accepted, plus one */
  attempts?: number;
}

export interface ExpectationResult {
  /** `steps[4]` or `steps[1].answer` */
  id: string;
  description: string;
  passed: boolean;
  /** `skipped`: not checkable where it ran (a target shows no event bodies) */
  skipped?: boolean;
  message: string;
  expected?: unknown;
  got?: unknown;
  /** lines a person can act on: `- expected` / `+ got` per field */
  diff?: string[];
  /** scenario clock, ms since the file started */
  atMs: number;
}

export interface StepLog {
  path: string;
  name: string;
  atMs: number;
  status?: number;
  detail?: string;
}

export type FileStatus = 'passed' | 'failed' | 'not-runnable' | 'invalid';

export interface FileReport {
  file: string;
  name: string;
  target: string;
  status: FileStatus;
  startedAt: string;
  /** wall time */
  durationMs: number;
  /** how far the scenario's clock moved */
  scenarioMs: number;
  expectations: ExpectationResult[];
  steps: StepLog[];
  /** why it stopped early, was not runnable, or was refused */
  error?: string;
}

export interface RunReport {
  target: string;
  startedAt: string;
  durationMs: number;
  passed: boolean;
  files: FileReport[];
}

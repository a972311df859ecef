import type { ServiceClient } from '../service-client.js';
import type { FakePagerDuty } from '../../testing/fake-pagerduty.js';
import type { SnsTestSigner } from '../../testing/sns-test-signer.js';

/**
 * One PagerDuty event as the simulator observed it: in-process, a request the fake
 * PagerDuty answered; against a target, a row of the service's outbox.
 */
export interface ObservedEvent {
  dedupKey: string;
  action: string;
  /** `retrying`: answered 408/429/5xx or refused, the service will try again */
  state: 'delivered' | 'dead' | 'pending' | 'retrying';
  /** epoch ms it was answered (in-process) or delivered (target); null while pending */
  at: number | null;
  attempts?: number;
  error?: string | null;
  deliveryId?: string;
}

/** Where a scenario runs: the service under test and what the simulator can see of PagerDuty. */
export interface SimulationTarget {
  /** `in-process` or the target URL, for reports */
  readonly label: string;
  readonly client: ServiceClient;
  /** only in-process: the built-in fake, which scenarios can script (outages) */
  readonly pagerDuty?: FakePagerDuty;
  readonly signer?: SnsTestSigner;
  readonly snsTopicArn: string;
  /** a secret in the service's PAGERDUTY_WEBHOOK_SECRETS, to post PagerDuty's webhooks as it would */
  readonly pagerDutyWebhookSecret?: string;
  /** PagerDuty events for the given keys, in the order PagerDuty saw them */
  observe(keys: ReadonlySet<string>): Promise<ObservedEvent[]>;
  close(): Promise<void>;
}

export interface ExpectationSpec {
  id: string;
  /** which events, in which order, within which time */
  description: string;
}

export interface ExpectationResult extends ExpectationSpec {
  passed: boolean;
  message: string;
  /** when it was decided, ms after the scenario started */
  durationMs: number;
  observed: string[];
  /** per observed event, ms from the request that caused it to PagerDuty's answer */
  latenciesMs: Record<string, number>;
}

export interface StepRecord {
  name: string;
  /** ms after the scenario started */
  atMs: number;
  status?: number;
  detail?: string;
}

export interface ScenarioReport {
  scenario: string;
  summary: string;
  target: string;
  startedAt: string;
  durationMs: number;
  passed: boolean;
  expectations: ExpectationResult[];
  steps: StepRecord[];
  /** every delivery of this run PagerDuty refused for good */
  deadDeliveries: ObservedEvent[];
  /** the scenario stopped early (a step failed to run); the expectations it did not reach failed */
  error?: string;
}

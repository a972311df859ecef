/**
 * `orchestrator-alerting/testing`: test doubles for a host's own tests and the CLI's
 * simulator. None of them is reachable from the production entry.
 *
 * ```ts
 * import { FakePagerDuty, SnsTestSigner } from 'orchestrator-alerting/testing';
 * ```
 */
export * from './fake-pagerduty.js';
export * from './sns-test-signer.js';
export * from './fake-sns-endpoint.js';
export * from './cloudwatch.fake.js';
export {
  createSelfSignedCertificate,
  type SelfSignedOptions,
  type TestKeyMaterial,
} from './self-signed-certificate.js';

import { Initial1764200000000 } from './1764200000000-initial.js';
import { SnsMessages1764305100000 } from './1764305100000-sns-messages.js';
import { KeyTransitions1764400000000 } from './1764400000000-key-transitions.js';
import { OpenIncidentIndexes1764500000000 } from './1764500000000-open-incident-indexes.js';
import { ResolveTimeoutBigint1764600000000 } from './1764600000000-resolve-timeout-bigint.js';
import { NotifierContext1764700000000 } from './1764700000000-notifier-context.js';
import { Routing1764800000000 } from './1764800000000-routing.js';
import { PagerDutyWebhooks1764950000000 } from './1764950000000-pagerduty-webhooks.js';

/** Every migration, oldest first. A host app reusing its own connection lists these. */
export const alertingMigrations = [
  Initial1764200000000,
  SnsMessages1764305100000,
  KeyTransitions1764400000000,
  OpenIncidentIndexes1764500000000,
  ResolveTimeoutBigint1764600000000,
  NotifierContext1764700000000,
  Routing1764800000000,
  PagerDutyWebhooks1764950000000,
];

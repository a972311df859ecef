import type { Provider } from '@nestjs/common';
import { ALERTING_CONFIG } from '../alerting/alerting.options.js';
import type { AlertingConfig } from '../config/alerting.config.js';
import { PagerDutyWebhookService } from './pagerduty-webhook.service.js';
import { PagerDutyWebhookVerifier } from './pagerduty-webhook.verifier.js';
import { RawBodyCapture } from './raw-body.capture.js';

/** What `POST /v1/pagerduty/webhooks` needs beside the incidents and the outbox. */
export const pagerDutyWebhookProviders: Provider[] = [
  {
    provide: PagerDutyWebhookVerifier,
    inject: [ALERTING_CONFIG],
    useFactory: (config: AlertingConfig) =>
      new PagerDutyWebhookVerifier(config.pagerduty.webhookSecrets),
  },
  PagerDutyWebhookService,
  RawBodyCapture,
];

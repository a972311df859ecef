import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConfigValidationError } from '../config/alerting.config.js';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { protectControllers } from '../ops/api-key.guard.js';
import { PagerDutyWebhookEventRecord } from './pagerduty-webhook-event.entity.js';
import { PagerDutyWebhookService } from './pagerduty-webhook.service.js';
import { PagerDutyWebhookVerifier } from './pagerduty-webhook.verifier.js';
import { PagerDutyWebhooksController } from './pagerduty-webhooks.controller.js';
import { RawBodyCapture } from './raw-body.capture.js';

/** Options of {@link PagerDutyWebhooksModule.forRoot}. */
export interface PagerDutyWebhooksOptions {
  /**
   * Secrets of the V3 webhook subscriptions allowed to post (several while one rotates),
   * each 16 characters or more. None: the route answers `503`.
   */
  secrets?: string[];
}

protectControllers([PagerDutyWebhooksController]);

/**
 * `POST /v1/pagerduty/webhooks`: what responders do in PagerDuty (acknowledge,
 * unacknowledge, resolve) applied to the incidents, authenticated by the V3 webhook
 * signature (`@AlertingPublic()`, no API key). An edge on the core, like SnsIngestModule.
 */
@Module({})
export class PagerDutyWebhooksModule {
  static forRoot(options: PagerDutyWebhooksOptions = {}): DynamicModule {
    const secrets = options.secrets ?? [];
    if (secrets.some((s) => s.length < 16 || /\s/.test(s)))
      throw new ConfigValidationError([
        'secrets: each must be at least 16 characters without spaces',
      ]);
    return {
      module: PagerDutyWebhooksModule,
      imports: [
        TypeOrmModule.forFeature(
          [PagerDutyWebhookEventRecord],
          ALERTING_DATA_SOURCE,
        ),
      ],
      controllers: [PagerDutyWebhooksController],
      providers: [
        {
          provide: PagerDutyWebhookVerifier,
          useValue: new PagerDutyWebhookVerifier(secrets),
        },
        PagerDutyWebhookService,
        RawBodyCapture,
      ],
    };
  }
}

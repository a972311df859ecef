import {
  Body,
  Controller,
  Headers,
  HttpCode,
  HttpStatus,
  Inject,
  Logger,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import {
  ApiBody,
  ApiHeader,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AlertingError } from '../ops/alerting.errors.js';
import { AlertingPublic } from '../ops/public.decorator.js';
import { parsePagerDutyWebhook } from './pagerduty-webhook.payload.js';
import {
  PagerDutyWebhookService,
  type PagerDutyWebhookReceipt,
} from './pagerduty-webhook.service.js';
import { PagerDutyWebhookVerifier } from './pagerduty-webhook.verifier.js';
import { RAW_BODY, rawBodyOf } from './raw-body.capture.js';

/**
 * PagerDuty V3 webhooks. PagerDuty cannot send an API key: the HMAC signature of the
 * raw body authenticates the delivery instead, hence `@AlertingPublic()`.
 */
@ApiTags('pagerduty')
@AlertingPublic()
@Controller('v1/pagerduty/webhooks')
export class PagerDutyWebhooksController {
  private readonly logger = new Logger('PagerDutyWebhooks');

  constructor(
    @Inject(PagerDutyWebhookVerifier)
    private readonly verifier: PagerDutyWebhookVerifier,
    private readonly webhooks: PagerDutyWebhookService,
  ) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @RouteConfig({ [RAW_BODY]: true })
  @ApiOperation({
    summary:
      'PagerDuty V3 webhook: acknowledge, unacknowledge and resolve in PagerDuty show here',
  })
  @ApiHeader({
    name: 'X-PagerDuty-Signature',
    description:
      'comma-separated v1=<hex HMAC-SHA256 of the raw body>, one per subscription secret',
    required: true,
  })
  @ApiBody({
    description:
      'the V3 webhook payload: { event: { id, event_type, occurred_at, agent, data } }',
    schema: { type: 'object' },
  })
  @ApiResponse({
    status: 202,
    description:
      'applied, a repeated event, or ignored (other type, unknown key, older than the last transition)',
  })
  @ApiResponse({
    status: 401,
    description: 'missing or bad signature; nothing stored',
  })
  @ApiResponse({
    status: 503,
    description: 'PAGERDUTY_WEBHOOK_SECRETS is not set',
  })
  async receive(
    @Req() request: FastifyRequest,
    @Headers('x-pagerduty-signature') signature: string | undefined,
    @Body() body: unknown,
  ): Promise<PagerDutyWebhookReceipt> {
    if (!this.verifier.configured)
      throw new AlertingError(
        'unavailable',
        'PagerDuty webhooks are not configured (PAGERDUTY_WEBHOOK_SECRETS is empty)',
      );
    const raw = rawBodyOf(request);
    if (!raw)
      throw new Error('the raw body of the PagerDuty webhook was not captured');
    if (!this.verifier.verify(raw, signature)) {
      this.logger.warn(
        `PagerDuty webhook refused from ${request.ip}: ${signature ? 'no valid' : 'no'} X-PagerDuty-Signature`,
      );
      throw new UnauthorizedException(
        'X-PagerDuty-Signature is missing or matches no configured secret',
      );
    }
    return this.webhooks.receive(parsePagerDutyWebhook(body));
  }
}

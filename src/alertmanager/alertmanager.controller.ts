import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  HttpException,
  Inject,
  Logger,
  Post,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { IngestResult } from '../alerting/alert.types.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { ALERTING_CONFIG } from '../config/alerting.config.js';
import { IncidentService } from '../alerting/incident.service.js';
import type { AlertingConfig } from '../config/alerting.config.js';
import {
  AlertmanagerMappingError,
  mapAlertmanagerWebhook,
} from './alertmanager.mapper.js';
import { IngestRoute } from '../ops/ingest-route.decorator.js';

/**
 * Prometheus Alertmanager's webhook receiver (`version: "4"`). Alertmanager retries a
 * notification only on 5xx and network errors, so anything a retry could cure must be a
 * 503 here, and anything it could not (a malformed payload) a 4xx, or it retries forever.
 */
@ApiTags('alertmanager')
@IngestRoute('webhook')
@Controller('v1/alertmanager')
export class AlertmanagerController {
  private readonly logger = new Logger('Alertmanager');

  constructor(
    private readonly incidents: IncidentService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Ingest an Alertmanager webhook notification (one transaction for the whole group)',
  })
  @ApiBody({
    description: 'the body Alertmanager posts to a webhook_configs receiver',
    schema: { type: 'object', required: ['version', 'alerts'] },
  })
  @ApiResponse({
    status: 202,
    description: '`{ results }`, one per alert of the group, in order',
  })
  @ApiResponse({
    status: 400,
    description:
      'not an Alertmanager version 4 payload, or an alert outside the input limits (the whole group is refused); the message names each problem by its label',
  })
  @ApiResponse({
    status: 503,
    description: 'could not be stored now; Alertmanager retries',
  })
  async receive(@Body() body: unknown): Promise<{ results: IngestResult[] }> {
    let items;
    try {
      items = mapAlertmanagerWebhook(body, { environment: this.config.appEnv });
    } catch (error) {
      if (error instanceof AlertmanagerMappingError)
        throw new BadRequestException([error.message]);
      throw error;
    }
    if (items.length === 0) return { results: [] };
    try {
      return { results: await this.incidents.ingest(items) };
    } catch (error) {
      // Alertmanager logs only the status: say here which alert and label to fix.
      if (error instanceof AlertingError && error.problems)
        this.logger.warn(
          `Alertmanager group ${groupKeyOf(body)} refused: ${error.problems.slice(0, 5).join('; ')}`,
        );
      if (error instanceof HttpException || error instanceof AlertingError)
        throw error;
      // A 500 would be final for Alertmanager and drop the group; the database coming back
      // cures this. The exception filter logs the cause with the 503.
      throw new AlertingError(
        'unavailable',
        'alerts could not be stored right now; retry',
        { cause: error },
      );
    }
  }
}

function groupKeyOf(body: unknown): string {
  const key = (body as { groupKey?: unknown }).groupKey;
  return typeof key === 'string' ? JSON.stringify(key.slice(0, 200)) : '(none)';
}

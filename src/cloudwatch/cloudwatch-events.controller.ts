import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  Inject,
  Post,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { IngestItem, IngestResult } from '../alerting/alert.types.js';
import { ALERTING_CONFIG } from '../config/alerting.config.js';
import { IncidentService } from '../alerting/incident.service.js';
import type { AlertingConfig } from '../config/alerting.config.js';
import {
  CloudWatchMappingError,
  mapEventBridgeAlarmEvent,
} from './alarm-message.mapper.js';
import { IngestRoute } from '../ops/ingest-route.decorator.js';

const MAX_BATCH = 100;

/** One entry per event, in request order; an event of another detail-type is `ignored` with a reason. */
export type EventResult =
  | IngestResult
  | { dedupKey: null; incidentId: null; action: 'ignored'; reason: string };

/**
 * EventBridge "CloudWatch Alarm State Change" events, as an API destination or any HTTP
 * target posts them: one event object, or an array of them (accepted or rejected whole).
 */
@ApiTags('cloudwatch')
@IngestRoute('webhook')
@Controller('v1/cloudwatch/events')
export class CloudWatchEventsController {
  constructor(
    private readonly incidents: IncidentService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Ingest EventBridge CloudWatch alarm state changes (one event or an array of 1–100)',
  })
  @ApiBody({
    schema: {
      oneOf: [
        { type: 'object' },
        {
          type: 'array',
          minItems: 1,
          maxItems: MAX_BATCH,
          items: { type: 'object' },
        },
      ],
    },
  })
  @ApiResponse({
    status: 202,
    description:
      '`{ results }`, one per event; other detail-types are `ignored`',
  })
  @ApiResponse({
    status: 400,
    description:
      'not an EventBridge alarm event, or an alarm outside the input limits; the message names each problem (detail.alarmName, detail.state.timestamp)',
  })
  async ingest(@Body() body: unknown): Promise<{ results: EventResult[] }> {
    const batch = Array.isArray(body);
    const events: unknown[] = batch ? body : [body];
    if (batch && (events.length < 1 || events.length > MAX_BATCH)) {
      throw new BadRequestException([
        `body must hold 1 to ${MAX_BATCH} events, got ${events.length}`,
      ]);
    }
    const errors: string[] = [];
    const mapped: (IngestItem | { ignored: string })[] = events.map(
      (event, i) => {
        try {
          return mapEventBridgeAlarmEvent(event, {
            environment: this.config.appEnv,
          });
        } catch (error) {
          if (!(error instanceof CloudWatchMappingError)) throw error;
          // Other detail-types are answered 2xx so a broad rule does not fill its dead-letter queue.
          if (error.code === 'unsupported-detail-type')
            return { ignored: error.message };
          errors.push(batch ? `[${i}]: ${error.message}` : error.message);
          return { ignored: error.message };
        }
      },
    );
    if (errors.length > 0) throw new BadRequestException(errors);

    const items = mapped.flatMap((m, i) =>
      'ignored' in m
        ? []
        : [{ ...m, meta: { ...m.meta, at: batch ? `[${i}]` : '' } }],
    );
    const ingested = items.length > 0 ? await this.incidents.ingest(items) : [];
    let next = 0;
    return {
      results: mapped.map((m) =>
        'ignored' in m
          ? {
              dedupKey: null,
              incidentId: null,
              action: 'ignored' as const,
              reason: m.ignored,
            }
          : ingested[next++],
      ),
    };
  }
}

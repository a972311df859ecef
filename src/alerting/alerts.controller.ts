import {
  Body,
  Controller,
  HttpCode,
  Inject,
  Param,
  Post,
} from '@nestjs/common';
import {
  ApiBody,
  ApiOperation,
  ApiParam,
  ApiTags,
  getSchemaPath,
  ApiExtraModels,
} from '@nestjs/swagger';
import type { AlertingConfig } from '../config/alerting.config.js';
import { ALERTING_CONFIG } from '../config/alerting.config.js';
import { AlertingError } from '../ops/alerting.errors.js';
import type { AlertInput, IngestItem, IngestResult } from './alert.types.js';
import { AlertDto, TemplateAlertDto } from './dto/alert.dto.js';
import { IncidentService } from './incident.service.js';
import { TEMPLATE_NAMES, isTemplateName, renderTemplate } from './templates.js';
import { validateDto } from '../ops/validation.js';
import { BadRequestException } from '@nestjs/common';
import { IngestRoute } from '../ops/ingest-route.decorator.js';

const MAX_BATCH = 1000;

@ApiTags('alerts')
@ApiExtraModels(AlertDto)
@IngestRoute('api')
@Controller('v1/alerts')
export class AlertsController {
  constructor(
    private readonly incidents: IncidentService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Ingest one alert or a batch of 1–1000 (accepted or rejected whole)',
  })
  @ApiBody({
    schema: {
      oneOf: [
        { $ref: getSchemaPath(AlertDto) },
        {
          type: 'array',
          minItems: 1,
          maxItems: MAX_BATCH,
          items: { $ref: getSchemaPath(AlertDto) },
        },
      ],
    },
  })
  async ingest(@Body() body: unknown): Promise<{ results: IngestResult[] }> {
    const list = Array.isArray(body) ? body : [body];
    if (Array.isArray(body) && (body.length < 1 || body.length > MAX_BATCH)) {
      throw new BadRequestException([
        `body must hold 1 to ${MAX_BATCH} alerts, got ${body.length}`,
      ]);
    }
    // validated by ingest, the one validation every edge shares
    const items: IngestItem[] = list.map((raw, i) => ({
      alert: raw as AlertInput,
      meta: { source: 'http', at: Array.isArray(body) ? `[${i}]` : '' },
    }));
    return { results: await this.incidents.ingest(items) };
  }

  @Post('templates/:name')
  @HttpCode(202)
  @ApiOperation({ summary: 'Fire a built-in alert template' })
  @ApiParam({ name: 'name', enum: TEMPLATE_NAMES })
  @ApiBody({ type: TemplateAlertDto })
  async template(
    @Param('name') name: string,
    @Body() body: unknown,
  ): Promise<{ results: IngestResult[] }> {
    if (!isTemplateName(name)) {
      throw new AlertingError(
        'not-found',
        `unknown template ${name}; one of ${TEMPLATE_NAMES.join(', ')}`,
      );
    }
    const input = validateDto(TemplateAlertDto, body);
    const alert = renderTemplate(name, input, this.config.appEnv);
    return {
      results: await this.incidents.ingest([
        { alert, meta: { source: 'template' } },
      ]),
    };
  }
}

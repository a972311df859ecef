import {
  BadRequestException,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { IncidentStatus } from './incident.entity.js';
import { IncidentQueries, incidentView } from './incident.queries.js';
import { IncidentService } from './incident.service.js';
import {
  parseCursor,
  parseLimit,
  parseList,
  singleParam,
} from './query-params.js';
import { SEVERITIES } from '../notifier/notifier.port.js';

const STATUSES: IncidentStatus[] = ['triggered', 'acknowledged', 'resolved'];
/** As long as the column: a longer value can match nothing. */
const MAX_ENVIRONMENT = 64;
const MAX_KEY_SEARCH = 512;

@ApiTags('incidents')
@Controller('v1/incidents')
export class IncidentsController {
  constructor(
    private readonly incidents: IncidentService,
    private readonly queries: IncidentQueries,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Incidents, newest first' })
  @ApiQuery({
    name: 'status',
    required: false,
    description: 'comma list of triggered, acknowledged, resolved',
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: '1–500, default 50',
  })
  @ApiQuery({
    name: 'cursor',
    required: false,
    description: 'nextCursor of the previous page',
  })
  @ApiQuery({
    name: 'suppressed',
    required: false,
    description:
      'true: only incidents held back (never paged so far); false: the others',
  })
  @ApiQuery({
    name: 'environment',
    required: false,
    description: 'exact environment (production, staging, …)',
  })
  @ApiQuery({
    name: 'severity',
    required: false,
    description: 'comma list of critical, error, warning, info (any case)',
  })
  @ApiQuery({
    name: 'q',
    required: false,
    description: 'part of the dedupKey, any case (up to 512 characters)',
  })
  list(
    @Query('status') status?: unknown,
    @Query('limit') limit?: unknown,
    @Query('cursor') cursor?: unknown,
    @Query('suppressed') suppressed?: unknown,
    @Query('environment') environment?: unknown,
    @Query('severity') severity?: unknown,
    @Query('q') q?: unknown,
  ) {
    const held = singleParam('suppressed', suppressed);
    if (held !== undefined && held !== 'true' && held !== 'false')
      throw new BadRequestException(['suppressed must be true or false']);
    const env = singleParam('environment', environment);
    if (env !== undefined && (env === '' || env.length > MAX_ENVIRONMENT))
      throw new BadRequestException([
        `environment must be 1 to ${MAX_ENVIRONMENT} characters`,
      ]);
    const search = singleParam('q', q);
    if (search !== undefined && search.length > MAX_KEY_SEARCH)
      throw new BadRequestException([
        `q must be at most ${MAX_KEY_SEARCH} characters`,
      ]);
    const severities = parseList(
      'severity',
      typeof severity === 'string' ? severity.toUpperCase() : severity,
      SEVERITIES,
    );
    return this.queries.list(
      parseList('status', status, STATUSES),
      parseLimit(limit),
      parseCursor(cursor, 'uuid'),
      {
        suppressed: held === undefined ? undefined : held === 'true',
        environment: env,
        severities,
        keyContains: search || undefined,
      },
    );
  }

  @Get(':dedupKey')
  @ApiOperation({
    summary:
      'The open incident for the key (else the latest), with timeline and deliveries',
  })
  get(@Param('dedupKey') dedupKey: string) {
    return this.queries.byKey(dedupKey);
  }

  @Post(':dedupKey/acknowledge')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Acknowledge the open incident; 404 unknown key, 409 already resolved',
  })
  async acknowledge(@Param('dedupKey') dedupKey: string) {
    return incidentView(await this.incidents.acknowledge(dedupKey));
  }

  @Post(':dedupKey/resolve')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Resolve the open incident; 404 unknown key, 409 already resolved',
  })
  async resolve(@Param('dedupKey') dedupKey: string) {
    return incidentView(await this.incidents.resolve(dedupKey, 'manual'));
  }
}

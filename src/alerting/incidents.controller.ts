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
import { parseCursor, parseLimit, parseList } from './query-params.js';

const STATUSES: IncidentStatus[] = ['triggered', 'acknowledged', 'resolved'];

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
  list(
    @Query('status') status?: unknown,
    @Query('limit') limit?: unknown,
    @Query('cursor') cursor?: unknown,
    @Query('suppressed') suppressed?: unknown,
  ) {
    if (
      suppressed !== undefined &&
      suppressed !== 'true' &&
      suppressed !== 'false'
    )
      throw new BadRequestException(['suppressed must be true or false']);
    return this.queries.list(
      parseList('status', status, STATUSES),
      parseLimit(limit),
      parseCursor(cursor, 'uuid'),
      suppressed === undefined ? undefined : suppressed === 'true',
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

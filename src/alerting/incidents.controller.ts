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

const STATUSES: IncidentStatus[] = ['triggered', 'acknowledged', 'resolved'];

export function parseList<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
): T[] {
  const values = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = values.filter((v) => !allowed.includes(v as T));
  if (bad.length > 0)
    throw new BadRequestException([
      `${name} must be a comma list of ${allowed.join(', ')}; got ${bad.join(', ')}`,
    ]);
  return values as T[];
}

export function parseLimit(
  raw: string | undefined,
  fallback = 50,
  max = 500,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new BadRequestException([
      `limit must be an integer from 1 to ${max}`,
    ]);
  return n;
}

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
    @Query('status') status?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
    @Query('suppressed') suppressed?: string,
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
      cursor,
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

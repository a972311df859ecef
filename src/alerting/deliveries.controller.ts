import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { IncidentQueries, deliveryView } from './incident.queries.js';
import {
  parseCursor,
  parseIntegerId,
  parseLimit,
  parseList,
} from './query-params.js';
import type { DeliveryState } from '../notifier/delivery.entity.js';
import { OutboxService } from '../notifier/outbox.service.js';

const STATES: DeliveryState[] = ['pending', 'delivered', 'dead'];

@ApiTags('deliveries')
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(
    private readonly queries: IncidentQueries,
    private readonly outbox: OutboxService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'The outbox: deliveries with attempts and last error, newest first',
  })
  @ApiQuery({
    name: 'state',
    required: false,
    description: 'comma list of pending, delivered, dead',
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: '1–500, default 50',
  })
  @ApiQuery({ name: 'cursor', required: false })
  list(
    @Query('state') state?: unknown,
    @Query('limit') limit?: unknown,
    @Query('cursor') cursor?: unknown,
  ) {
    return this.queries.deliveries(
      parseList('state', state, STATES),
      parseLimit(limit),
      parseCursor(cursor, 'integer'),
    );
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Re-queue a dead delivery; 404 unknown, 409 not dead or overtaken (a later event of its notifier and key was delivered or is being sent)',
  })
  async retry(@Param('id') id: string) {
    return deliveryView(await this.outbox.retry(parseIntegerId('id', id)));
  }
}

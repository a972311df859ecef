import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { parseList } from '../alerting/query-params.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { silenceView, type SilenceState } from './silence.entity.js';
import { SilencesService } from './silences.service.js';

const STATES: SilenceState[] = ['active', 'pending', 'expired'];

@ApiTags('silences')
@Controller('v1/silences')
export class SilencesController {
  constructor(
    private readonly silences: SilencesService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private view = (s: Parameters<typeof silenceView>[0]) =>
    silenceView(s, this.clock.now().toISOString());

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Create a silence: { matchers, startsAt?, endsAt | duration, comment, createdBy }',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['matchers', 'comment', 'createdBy'],
      additionalProperties: false,
      properties: {
        matchers: {
          type: 'object',
          description:
            'field → string | string[] | { regex }; fields as in routes (severity, alarmName, …, via, customDetails.<name>)',
          example: { environment: 'production', alarmName: { regex: 'db-.*' } },
        },
        startsAt: {
          type: 'string',
          format: 'date-time',
          description: 'default now',
        },
        endsAt: { type: 'string', format: 'date-time' },
        duration: {
          type: 'string',
          example: '2h',
          description: 'instead of endsAt',
        },
        comment: { type: 'string', maxLength: 4096 },
        createdBy: { type: 'string', maxLength: 255 },
      },
    },
  })
  async create(@Body() body: unknown) {
    return this.view(await this.silences.create(body));
  }

  @Get()
  @ApiOperation({ summary: 'Silences, newest start first' })
  @ApiQuery({
    name: 'state',
    required: false,
    description: 'comma list of active, pending, expired',
  })
  async list(@Query('state') state?: string) {
    const items = await this.silences.list(parseList('state', state, STATES));
    return { items: items.map(this.view) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One silence' })
  async get(@Param('id') id: string) {
    return this.view(await this.silences.get(id));
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Expire the silence now; its held incidents page at the next reconcile tick',
  })
  async expire(@Param('id') id: string) {
    return this.view(await this.silences.expire(id));
  }
}

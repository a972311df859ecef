import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AlertDto } from '../alerting/dto/alert.dto.js';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { NotifierRegistry } from '../notifier/notifier.registry.js';
import { validateDto } from '../ops/validation.js';
import { HoldService } from './hold.service.js';
import { describeMatch, routableOf } from './routing-table.js';
import { RoutingService } from './routing.service.js';

const VIAS = ['http', 'template', 'sns', 'eventbridge', 'alertmanager'];

@ApiTags('routing')
@Controller('v1/routing')
export class RoutingController {
  constructor(
    private readonly routing: RoutingService,
    private readonly holds: HoldService,
    private readonly registry: NotifierRegistry,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'The routing rules in force (keys masked) and where they came from',
  })
  get() {
    return this.routing.view();
  }

  @Post('reload')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Load the routing file again; 400 naming each bad rule, the old rules stay',
  })
  reload() {
    this.routing.reload();
    return this.routing.view();
  }

  @Post('test')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Which route an alert takes, its notifiers and key names, and whether anything holds it now',
  })
  @ApiBody({ type: AlertDto })
  @ApiQuery({
    name: 'via',
    required: false,
    description: VIAS.join(', ') + ' (default http)',
  })
  async test(@Body() body: unknown, @Query('via') via = 'http') {
    if (!VIAS.includes(via))
      throw new BadRequestException([`via must be one of ${VIAS.join(', ')}`]);
    const alert = routableOf(
      validateDto(AlertDto, body),
      {
        environment: this.config.appEnv,
        component: this.config.alert.component,
        group: this.config.alert.group,
      },
      via,
    );
    const { match, hold } = await this.holds.explain(alert);
    return { ...describeMatch(match, this.registry.names), hold };
  }
}

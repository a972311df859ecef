import { Body, Controller, Get, Inject, Patch } from '@nestjs/common';
import {
  ApiOperation,
  ApiPropertyOptional,
  ApiTags,
  ApiBody,
} from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { NotifierRegistry } from '../notifier/notifier.registry.js';
import {
  PAGERDUTY_OPTIONS,
  type PagerDutySettingsDefaults,
} from './pagerduty.options.js';
import {
  RoutingKeyService,
  type PagerDutySettings,
} from './routing-key.service.js';
import { validateDto } from '../ops/validation.js';
import { maskSecret } from '../config/alerting.config.js';
import { Logger } from '@nestjs/common';

export class PatchPagerDutyConfigDto {
  @ApiPropertyOptional({
    minLength: 32,
    maxLength: 32,
    example: '0123456789abcdef0123456789abcdef',
  })
  @IsOptional()
  @IsString()
  @Length(32, 32, {
    message:
      'routingKey must be exactly 32 characters (a PagerDuty integration key)',
  })
  @Matches(/^[A-Za-z0-9]+$/, {
    message: 'routingKey must be letters and digits only',
  })
  routingKey?: string;

  @ApiPropertyOptional({ maxLength: 255, example: 'Hybrid Routing Alerts' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  serviceName?: string;

  @ApiPropertyOptional({ maxLength: 64, example: 'PABC123' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  escalationPolicyId?: string;
}

@ApiTags('config')
@Controller('v1/config/pagerduty')
export class PagerDutyConfigController {
  private readonly logger = new Logger(PagerDutyConfigController.name);

  constructor(
    private readonly settings: RoutingKeyService,
    @Inject(PAGERDUTY_OPTIONS) private readonly pd: PagerDutySettingsDefaults,
    private readonly notifiers: NotifierRegistry,
  ) {}

  @Get()
  @ApiOperation({ summary: 'PagerDuty settings in force (routing key masked)' })
  async get() {
    return this.view(await this.settings.settings());
  }

  @Patch()
  @ApiOperation({
    summary:
      'Change PagerDuty settings at runtime; persisted, used by the next trigger',
  })
  @ApiBody({ type: PatchPagerDutyConfigDto })
  async patch(@Body() body: unknown) {
    const changes = validateDto(PatchPagerDutyConfigDto, body);
    const updated = await this.settings.update(changes);
    this.logger.log(
      `PagerDuty settings changed: ${Object.keys(changes).join(', ')} (routing key now ${maskSecret(updated.routingKey)})`,
    );
    return this.view(updated);
  }

  private view(s: PagerDutySettings) {
    const pd = this.pd;
    return {
      enabled: this.notifiers.isEnabled('pagerduty'),
      routingKey: maskSecret(s.routingKey),
      routingKeySource: s.routingKeySource,
      serviceName: s.serviceName,
      escalationPolicyId: s.escalationPolicyId,
      eventsUrl: pd.eventsUrl,
      client: pd.client,
      clientUrl: pd.clientUrl ?? null,
      rateLimitPerMinute: pd.rateLimitPerMinute,
    };
  }
}

import { Body, Controller, Get, Inject, Patch } from '@nestjs/common';
import {
  ApiOperation,
  ApiPropertyOptional,
  ApiTags,
  ApiBody,
} from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import { ALERTING_CONFIG } from '../alerting/alerting.options.js';
import {
  RoutingKeyService,
  type PagerDutySettings,
} from '../alerting/routing-key.service.js';
import { validateDto } from '../alerting/validation.js';
import { maskSecret, type AlertingConfig } from '../config/alerting.config.js';
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
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
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
    const pd = this.config.pagerduty;
    return {
      enabled: this.config.notifiers.includes('pagerduty'),
      routingKey: maskSecret(s.routingKey),
      routingKeySource: s.routingKeySource,
      serviceName: s.serviceName,
      escalationPolicyId: s.escalationPolicyId,
      eventsUrl: pd.eventsUrl,
      client: pd.client,
      clientUrl: pd.clientUrl ?? null,
      rateLimitPerMinute: pd.rateLimitPerMinute,
      webhookSecrets: pd.webhookSecrets.map((k) => maskSecret(k)),
    };
  }
}

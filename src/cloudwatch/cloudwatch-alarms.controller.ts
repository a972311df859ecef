import { Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AlertingError } from '../ops/alerting.errors.js';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { CLOUDWATCH_OPTIONS } from './cloudwatch.options.js';
import type { AlarmApplyResult, AlarmPlan } from './alarm-manager.js';
import {
  hybridRoutingAlarmPrefix,
  hybridRoutingAlarmSpecs,
} from './alarm-specs.js';
import {
  CLOUDWATCH_CLIENT,
  type CloudWatchAccess,
} from './cloudwatch.providers.js';

export interface AlarmPlanResponse {
  region: string;
  /** only alarms named with this prefix are looked at, changed or deleted */
  namePrefix: string;
  snsTopicArn: string;
  plan: AlarmPlan;
}

export interface AlarmApplyResponse extends AlarmPlanResponse {
  result: AlarmApplyResult;
}

/** The CloudWatch alarm manager over HTTP: the same plan and apply as `npm run alarms`. */
@ApiTags('cloudwatch')
@Controller('v1/cloudwatch/alarms')
export class CloudWatchAlarmsController {
  constructor(
    @Inject(CLOUDWATCH_CLIENT) private readonly cloudWatch: CloudWatchAccess,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOUDWATCH_OPTIONS)
    private readonly options: { snsTopicArn?: string },
  ) {}

  @Get('plan')
  @ApiOperation({
    summary: 'What apply would create, update or delete (changes nothing)',
  })
  @ApiResponse({ status: 409, description: 'SNS_TOPIC_ARN is not set' })
  @ApiResponse({
    status: 503,
    description: 'CloudWatch refused or could not be reached',
  })
  async plan(): Promise<AlarmPlanResponse> {
    const { manager, context } = await this.manager();
    return { ...context, plan: await this.call('plan', () => manager.plan()) };
  }

  @Post('apply')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Create/update the alarms as code; delete owned alarms no longer defined',
  })
  @ApiResponse({ status: 409, description: 'SNS_TOPIC_ARN is not set' })
  @ApiResponse({
    status: 503,
    description: 'CloudWatch refused or could not be reached',
  })
  async apply(): Promise<AlarmApplyResponse> {
    const { manager, context } = await this.manager();
    const plan = await this.call('plan', () => manager.plan());
    const result = await this.call('apply', () => manager.apply(plan));
    return { ...context, plan, result };
  }

  private async manager() {
    const snsTopicArn = this.options.snsTopicArn;
    if (!snsTopicArn) {
      throw new AlertingError(
        'conflict',
        'SNS_TOPIC_ARN is not set: the alarms need a topic for their alarm and OK actions',
      );
    }
    const environment = this.config.appEnv;
    // The prefix keeps one environment's run from deleting another's alarms (one owner tag for all).
    const namePrefix = hybridRoutingAlarmPrefix(environment);
    const [{ client }, { AlarmManager }] = await Promise.all([
      this.cloudWatch(),
      import('./alarm-manager.js'),
    ]);
    const manager = new AlarmManager({
      client,
      specs: hybridRoutingAlarmSpecs({ environment, snsTopicArn }),
      namePrefix,
    });
    return {
      manager,
      context: { region: this.config.aws.region, namePrefix, snsTopicArn },
    };
  }

  private async call<T>(step: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const e = error as { name?: string; message?: string };
      throw new AlertingError(
        'unavailable',
        `CloudWatch ${step} failed: ${e.name ?? 'Error'}: ${e.message ?? ''}`,
      );
    }
  }
}

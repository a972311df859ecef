import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { parseDuration } from './duration.js';

export const APP_ENVS = ['development', 'staging', 'production'] as const;
export const NOTIFIER_NAMES = ['pagerduty', 'sns', 'webhook', 'log'] as const;
/** Sends one instance keeps in flight at once (`DELIVERY_CONCURRENCY`): its default and its ceiling. */
export const DEFAULT_DELIVERY_CONCURRENCY = 32;
export const MAX_DELIVERY_CONCURRENCY = 1024;
export const LOG_LEVELS = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
] as const;

@ValidatorConstraint({ name: 'duration' })
class IsDuration implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return typeof value === 'string' && parseDuration(value) !== null;
  }
  defaultMessage() {
    return 'must be a duration like 500ms, 30s, 5m, 4h, 1d or milliseconds';
  }
}

@ValidatorConstraint({ name: 'databaseUrl' })
class IsDatabaseUrl implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return (
      typeof value === 'string' &&
      /^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(value)
    );
  }
  defaultMessage() {
    return 'must be sqlite:<file>, sqlite::memory: or postgres://user:pass@host:port/db';
  }
}

@ValidatorConstraint({ name: 'notifierList' })
class IsNotifierList implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return (
      typeof value === 'string' &&
      splitList(value).length > 0 &&
      splitList(value).every((n) =>
        (NOTIFIER_NAMES as readonly string[]).includes(n),
      )
    );
  }
  defaultMessage() {
    return `must be a comma list of ${NOTIFIER_NAMES.join(', ')}`;
  }
}

@ValidatorConstraint({ name: 'secretList' })
class IsSecretList implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return (
      typeof value === 'string' &&
      splitList(value).length > 0 &&
      splitList(value).every((s) => s.length >= 16 && !/\s/.test(s))
    );
  }
  defaultMessage() {
    return 'must be a comma list of secrets, each at least 16 characters without spaces';
  }
}

@ValidatorConstraint({ name: 'regex' })
class IsRegex implements ValidatorConstraintInterface {
  validate(value: unknown) {
    try {
      new RegExp(String(value));
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage() {
    return 'must be a valid regular expression';
  }
}

export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim())
    ? Number(value)
    : value;

const urlOptions = {
  require_tld: false,
  require_protocol: true,
  protocols: ['http', 'https'],
};

/** The environment as the README (Configuration) documents it; every field optional where a default exists. */
export class EnvSchema {
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @IsString() HOST?: string;
  @IsOptional() @IsString() TRUST_PROXY?: string;
  @IsOptional() @IsIn(APP_ENVS) APP_ENV?: (typeof APP_ENVS)[number];
  @IsOptional() @Validate(IsDatabaseUrl) DATABASE_URL?: string;
  @IsOptional() @Validate(IsNotifierList) NOTIFIERS?: string;
  @IsOptional()
  @Length(32, 32, {
    message: 'must be exactly 32 characters (a PagerDuty integration key)',
  })
  PAGERDUTY_ROUTING_KEY?: string;
  @IsOptional() @IsUrl(urlOptions) PAGERDUTY_EVENTS_URL?: string;
  @IsOptional() @IsString() PAGERDUTY_SERVICE_NAME?: string;
  @IsOptional() @IsString() PAGERDUTY_ESCALATION_POLICY_ID?: string;
  @IsOptional() @IsString() PAGERDUTY_CLIENT?: string;
  @IsOptional() @IsUrl(urlOptions) PAGERDUTY_CLIENT_URL?: string;
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  PAGERDUTY_RATE_LIMIT_PER_MINUTE?: number;
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(MAX_DELIVERY_CONCURRENCY)
  DELIVERY_CONCURRENCY?: number;
  @IsOptional() @Validate(IsSecretList) PAGERDUTY_WEBHOOK_SECRETS?: string;
  @IsOptional() @IsUrl(urlOptions) WEBHOOK_URL?: string;
  @IsOptional()
  @Matches(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/, {
    message: 'must be an SNS topic ARN',
  })
  SNS_TOPIC_ARN?: string;
  @IsOptional()
  @Matches(/^[a-z]{2}(-[a-z]+)+-\d$/, {
    message: 'must be an AWS region like eu-central-1',
  })
  AWS_REGION?: string;
  @IsOptional() @IsUrl(urlOptions) AWS_ENDPOINT_URL?: string;
  @IsOptional() @IsString() ALERT_COMPONENT?: string;
  @IsOptional() @IsString() ALERT_GROUP?: string;
  @IsOptional() @IsString() CLOUDWATCH_DASHBOARD_NAME?: string;
  @IsOptional() @IsUrl(urlOptions) APP_DASHBOARD_URL?: string;
  @IsOptional() @IsString() APP_DASHBOARD_NAME?: string;
  @IsOptional() @IsString() API_KEYS?: string;
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_LIMIT_PER_MINUTE?: number;
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  INGEST_RATE_LIMIT_PER_MINUTE?: number;
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  AUTH_FAILURES_PER_MINUTE?: number;
  @IsOptional() @Validate(IsDuration) INCIDENT_RESOLVE_TIMEOUT?: string;
  @IsOptional() @Validate(IsDuration) RECONCILE_INTERVAL?: string;
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  RECONCILE_CLOUDWATCH?: string;
  @IsOptional() @IsString() SNS_TOPIC_ARNS?: string;
  @IsOptional() @Validate(IsRegex) SNS_CERT_URL_PATTERN?: string;
  @IsOptional() @IsIn(LOG_LEVELS) LOG_LEVEL?: (typeof LOG_LEVELS)[number];
  @IsOptional() @IsString() ROUTING_FILE?: string;
}

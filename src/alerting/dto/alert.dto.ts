import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  MaxLength,
  Validate,
  ValidateNested,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import {
  MAX_RESOLVE_TIMEOUT_MS,
  parseDuration,
} from '../../config/duration.js';
import { SEVERITIES, type AlertInput, type Severity } from '../alert.types.js';

/**
 * The alert's limits, in one place: every edge's mapped alerts are validated against
 * this DTO, and a mapper that fits free text to them (CloudWatch, Alertmanager) reads
 * them from here.
 */
export const ALERT_LIMITS = {
  alarmName: 255,
  metricName: 255,
  environment: 64,
  description: 8192,
  dedupKey: 255,
  recommendations: 20,
  recommendation: 1024,
  links: 20,
  customDetailsBytes: 64 * 1024,
  resolveTimeoutMs: MAX_RESOLVE_TIMEOUT_MS,
} as const;

/** How an alert body is checked before its DTO sees it (see ShapeRules). */
export const ALERT_SHAPE = {
  arrays: {
    links: ALERT_LIMITS.links,
    recommendations: ALERT_LIMITS.recommendations,
  },
  opaque: ['customDetails'],
} as const;

const CUSTOM_DETAILS_MAX_BYTES = ALERT_LIMITS.customDetailsBytes;

@ValidatorConstraint({ name: 'customDetailsSize' })
class CustomDetailsSize implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return (
      Buffer.byteLength(JSON.stringify(value ?? {}), 'utf8') <=
      CUSTOM_DETAILS_MAX_BYTES
    );
  }
  defaultMessage() {
    return 'customDetails must be at most 64 KiB serialized';
  }
}

@ValidatorConstraint({ name: 'duration' })
class IsDurationValue implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return (
      (typeof value === 'string' || typeof value === 'number') &&
      (parseDuration(value) ?? Infinity) <= MAX_RESOLVE_TIMEOUT_MS
    );
  }
  defaultMessage() {
    return 'resolveTimeout must be a duration from 0 to 30d, like 30s, 5m, 4h, 1d or milliseconds';
  }
}

export class LinkDto {
  @ApiProperty({ example: 'https://runbooks.example.com/high-failure-rate' })
  @IsUrl(
    { require_tld: false, require_protocol: true },
    { message: 'href must be an absolute URL' },
  )
  href: string;

  @ApiPropertyOptional({ example: 'Runbook', maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  text?: string;
}

const upper = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.toUpperCase() : value;

/** The alert (README, HTTP API): every rule here is a 400 naming the field. */
export class AlertDto implements AlertInput {
  @ApiProperty({
    enum: SEVERITIES,
    description: 'any case',
    example: 'CRITICAL',
  })
  @Transform(upper)
  @IsIn(SEVERITIES, {
    message: `severity must be one of ${SEVERITIES.join(', ')}`,
  })
  severity: Severity;

  @ApiProperty({
    minLength: 1,
    maxLength: 255,
    example: 'production-hybrid-routing-high-failure-rate',
  })
  @IsString()
  @Length(1, ALERT_LIMITS.alarmName)
  alarmName: string;

  @ApiPropertyOptional({ maxLength: 255, example: 'SupportModeSuccessRate' })
  @IsOptional()
  @IsString()
  @MaxLength(ALERT_LIMITS.metricName)
  metricName?: string;

  @ApiPropertyOptional({ example: 95 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  threshold?: number;

  @ApiPropertyOptional({ example: 85 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  currentValue?: number;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'ISO 8601, from year 2000 to one day ahead; default now',
  })
  @IsOptional()
  @IsISO8601(
    { strict: true },
    { message: 'timestamp must be an ISO 8601 date' },
  )
  timestamp?: string;

  @ApiPropertyOptional({
    description: 'default APP_ENV',
    example: 'production',
    maxLength: 64,
  })
  @IsOptional()
  @IsString()
  @Length(1, ALERT_LIMITS.environment)
  environment?: string;

  @ApiPropertyOptional({
    maxLength: 8192,
    example: 'Success rate has fallen below 95%. Current: 85%',
  })
  @IsOptional()
  @IsString()
  @MaxLength(ALERT_LIMITS.description)
  description?: string;

  @ApiPropertyOptional({
    type: [String],
    maxItems: 20,
    example: ['Check hybrid routing health status'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALERT_LIMITS.recommendations)
  @IsString({ each: true })
  @MaxLength(ALERT_LIMITS.recommendation, { each: true })
  recommendations?: string[];

  @ApiPropertyOptional({ enum: ['firing', 'resolved'], default: 'firing' })
  @IsOptional()
  @IsIn(['firing', 'resolved'])
  status?: 'firing' | 'resolved';

  @ApiPropertyOptional({
    maxLength: 255,
    description: 'default alarmName-metricName (alarmName without a metric)',
  })
  @IsOptional()
  @IsString()
  @Length(1, ALERT_LIMITS.dedupKey)
  dedupKey?: string;

  @ApiPropertyOptional({ maxLength: 255 })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  source?: string;

  @ApiPropertyOptional({
    maxLength: 255,
    description: 'default ALERT_COMPONENT',
  })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  component?: string;

  @ApiPropertyOptional({ maxLength: 255, description: 'default ALERT_GROUP' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  group?: string;

  @ApiPropertyOptional({ maxLength: 255, example: 'performance' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  class?: string;

  @ApiPropertyOptional({ type: [LinkDto], maxItems: 20 })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALERT_LIMITS.links)
  @ValidateNested({ each: true })
  @Type(() => LinkDto)
  links?: LinkDto[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: '≤ 64 KiB serialized, nested at most 20 levels',
  })
  @IsOptional()
  @IsObject()
  @Validate(CustomDetailsSize)
  customDetails?: Record<string, unknown>;

  @ApiPropertyOptional({
    oneOf: [{ type: 'string' }, { type: 'number' }],
    example: '4h',
    description:
      '0 to 30d; a number is milliseconds, rounded to a whole millisecond',
  })
  @IsOptional()
  @Validate(IsDurationValue)
  resolveTimeout?: string | number;
}

export class TemplateAlertDto {
  @ApiProperty({ example: 85 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  currentValue: number;

  @ApiProperty({ example: 95 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  threshold: number;

  @ApiPropertyOptional({
    description: 'default APP_ENV',
    example: 'production',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  environment?: string;
}

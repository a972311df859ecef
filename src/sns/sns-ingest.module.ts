import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { protectControllers } from '../ops/api-key.guard.js';
import { SnsMessageRecord } from './sns-message.entity.js';
import { SnsController } from './sns.controller.js';
import { SNS_INGEST_OPTIONS, snsProviders } from './sns.providers.js';

/** Options of {@link SnsIngestModule.forRoot}. */
export interface SnsIngestOptions {
  /** topics whose deliveries are accepted; empty (default): any topic with a valid signature */
  topicAllowlist?: string[];
  /** which signing certificate URLs are trusted; default AWS's own (`sns.<region>.amazonaws.com`) */
  certUrlPattern?: string;
}

protectControllers([SnsController]);

/**
 * The SNS HTTP(S) subscription endpoint, `POST /v1/sns`: CloudWatch alarm notifications
 * in, authenticated by their signature (`@AlertingPublic()`, no API key).
 */
@Module({})
export class SnsIngestModule {
  static forRoot(options: SnsIngestOptions = {}): DynamicModule {
    return {
      module: SnsIngestModule,
      imports: [
        TypeOrmModule.forFeature([SnsMessageRecord], ALERTING_DATA_SOURCE),
      ],
      controllers: [SnsController],
      providers: [
        {
          provide: SNS_INGEST_OPTIONS,
          useValue: {
            topicAllowlist: options.topicAllowlist ?? [],
            certUrlPattern:
              options.certUrlPattern ??
              '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/',
          },
        },
        ...snsProviders,
      ],
    };
  }
}

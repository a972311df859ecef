import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IngestItem, IngestResult } from '../alerting/alert.types.js';
import { AlertingError } from '../ops/alerting.errors.js';
import { CLOCK, type Clock } from '../ops/clock.js';
import { IncidentService } from '../alerting/incident.service.js';
import {
  CloudWatchMappingError,
  mapCloudWatchAlarmMessage,
} from '../cloudwatch/alarm-message.mapper.js';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { DatabaseService } from '../database/database.service.js';
import { SnsMessageRecord } from './sns-message.entity.js';
import {
  SnsSignatureVerifier,
  SnsSubscriptionConfirmer,
  type SnsMessage,
  type SnsMessageType,
} from './sns-signature.verifier.js';

export type SnsOutcome =
  'ingested' | 'ignored' | 'confirmed' | 'acknowledged' | 'duplicate';

/** The answer to one SNS delivery. */
export interface SnsReceipt {
  messageId: string;
  type: SnsMessageType;
  outcome: SnsOutcome;
  /** why a verified message changed nothing */
  reason?: string;
  /** the incident transitions of an alarm notification */
  results?: IngestResult[];
}

// SNS HTTP retry policies span at most an hour; a week leaves room for redrive and
// replays while keeping the table small.
const MESSAGE_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * Handles SNS HTTP(S) deliveries (CONTRACT §5): authenticate, drop repeats by
 * `MessageId`, then confirm subscriptions or turn CloudWatch alarm notifications into
 * alerts. Nothing is written before the signature holds.
 */
@Injectable()
export class SnsInboxService {
  private readonly logger = new Logger('Sns');
  private nextPruneAt = 0;

  constructor(
    private readonly verifier: SnsSignatureVerifier,
    private readonly confirmer: SnsSubscriptionConfirmer,
    private readonly incidents: IncidentService,
    private readonly db: DatabaseService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Throws `SnsVerificationError` when the delivery is not authentic or a confirmation fails. */
  async receive(body: unknown): Promise<SnsReceipt> {
    const message = await this.verifier.verify(body);
    const { MessageId: messageId, Type: type } = message;
    if (await this.seen(messageId)) {
      this.logger.debug(
        `repeated SNS ${type} ${messageId} acknowledged and ignored`,
      );
      return {
        messageId,
        type,
        outcome: 'duplicate',
        reason: 'MessageId already processed',
      };
    }
    const receipt = await this.handle(message);
    // Remembered only after the work is done: a crash in between makes the SNS retry apply
    // it again, which the incident rules absorb (dedup, StateChangeTime ordering), rather
    // than losing it.
    await this.remember(message, receipt.outcome);
    return receipt;
  }

  private async handle(message: SnsMessage): Promise<SnsReceipt> {
    const { MessageId: messageId, Type: type, TopicArn: topicArn } = message;
    if (message.Type === 'SubscriptionConfirmation') {
      await this.confirmer.confirm(message);
      this.logger.log(`confirmed the SNS subscription to ${topicArn}`);
      return { messageId, type, outcome: 'confirmed' };
    }
    if (message.Type === 'UnsubscribeConfirmation') {
      // Its SubscribeURL would subscribe us again: that is an operator's decision, not ours.
      this.logger.warn(
        `SNS subscription to ${topicArn} was removed (UnsubscribeConfirmation ${messageId})`,
      );
      return { messageId, type, outcome: 'acknowledged' };
    }
    let item: IngestItem;
    try {
      item = mapCloudWatchAlarmMessage(message.Message, {
        environment: this.config.appEnv,
      });
    } catch (error) {
      if (!(error instanceof CloudWatchMappingError)) throw error;
      this.logger.log(
        `SNS notification ${messageId} from ${topicArn} ignored: ${error.message}`,
      );
      return {
        messageId,
        type,
        outcome: 'ignored',
        reason: `not a CloudWatch alarm state change: ${error.message}`,
      };
    }
    // A verified alarm that fails validation is a 400 naming the field: SNS does not retry
    // a 4xx, and a retry could not cure it anyway. Nothing is stored, MessageId included.
    item.meta.at = 'Message';
    let results: IngestResult[];
    try {
      results = await this.incidents.ingest([item]);
    } catch (error) {
      // SNS counts a 4xx as delivered and shows nobody the body: the log is the only trace.
      if (error instanceof AlertingError && error.problems)
        this.logger.warn(
          `SNS notification ${messageId} from ${topicArn} refused: ${error.problems.join('; ')}`,
        );
      throw error;
    }
    this.logger.debug(
      `SNS notification ${messageId}: ${results.map((r) => `${r.dedupKey} ${r.action}`).join(', ')}`,
    );
    return { messageId, type, outcome: 'ingested', results };
  }

  private async seen(messageId: string): Promise<boolean> {
    const row = await this.db.read((m) =>
      m.findOneBy(SnsMessageRecord, { messageId }),
    );
    return row !== null;
  }

  private async remember(
    message: SnsMessage,
    outcome: SnsOutcome,
  ): Promise<void> {
    const now = this.clock.now();
    try {
      await this.db.tx((m) =>
        // A concurrent delivery of the same message may have won the insert: that is fine.
        this.db.query(
          m,
          `INSERT INTO sns_messages (message_id, topic_arn, type, outcome, received_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING`,
          [
            message.MessageId,
            message.TopicArn,
            message.Type,
            outcome,
            now.toISOString(),
          ],
        ),
      );
      await this.pruneIfDue(now);
    } catch (error) {
      // The message is applied; failing the request would only make SNS send it again.
      this.logger.warn(
        `could not record SNS MessageId ${message.MessageId}: ${(error as Error).message}`,
      );
    }
  }

  private async pruneIfDue(now: Date): Promise<void> {
    if (now.getTime() < this.nextPruneAt) return;
    this.nextPruneAt = now.getTime() + PRUNE_EVERY_MS;
    const cutoff = new Date(now.getTime() - MESSAGE_RETENTION_MS).toISOString();
    await this.db.tx((m) =>
      this.db.query(m, 'DELETE FROM sns_messages WHERE received_at < $1', [
        cutoff,
      ]),
    );
  }
}

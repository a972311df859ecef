import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import {
  NotifierAdapter,
  type NotificationEvent,
  type Notifier,
} from 'orchestrator-alerting';
import type { Repository } from 'typeorm';
import { HostNotification } from './entities.js';

/** To show a send in flight being drained at shutdown; 0 in normal use. */
const SEND_DELAY_MS = Number(process.env.NOTIFIER_DELAY_MS ?? 0);

/**
 * The host's only notifier: each trigger/acknowledge/resolve becomes a row in the host's
 * own table, through the host's own connection. Registered by its decorator; the module
 * is told to use it alone (`notifiers: ['host-table']`).
 */
@NotifierAdapter()
@Injectable()
export class HostTableNotifier implements Notifier {
  readonly name = 'host-table';
  private readonly logger = new Logger(HostTableNotifier.name);

  constructor(
    @InjectRepository(HostNotification)
    private readonly rows: Repository<HostNotification>,
  ) {}

  async send(event: NotificationEvent): Promise<void> {
    this.logger.log(`sending ${event.action} ${event.incident.dedupKey}`);
    if (SEND_DELAY_MS > 0)
      await new Promise((resolve) => setTimeout(resolve, SEND_DELAY_MS));
    await this.rows.upsert(
      {
        deliveryId: event.deliveryId,
        action: event.action,
        dedupKey: event.incident.dedupKey,
        severity: event.incident.severity,
      },
      ['deliveryId'],
    );
    this.logger.log(`sent ${event.action} ${event.incident.dedupKey}`);
  }
}

import { Injectable, Logger } from '@nestjs/common';
import { NotifierAdapter } from './notifier-adapter.decorator.js';
import type { NotificationEvent, Notifier } from './notifier.port.js';

/** Development default: each transition becomes one log line; nothing leaves the process. */
@NotifierAdapter()
@Injectable()
export class LogNotifier implements Notifier {
  readonly name = 'log';
  private readonly logger = new Logger('LogNotifier');

  send(event: NotificationEvent): Promise<void> {
    const { incident } = event;
    this.logger.log({
      msg: `notify ${event.action} ${incident.dedupKey}`,
      event_action: event.action,
      dedupKey: incident.dedupKey,
      severity: incident.severity,
      environment: incident.environment,
      alarmName: incident.alarmName,
      description: incident.description,
    });
    return Promise.resolve();
  }
}

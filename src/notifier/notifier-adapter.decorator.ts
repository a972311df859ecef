import { DiscoveryService } from '@nestjs/core';

/**
 * Marks a provider as a notifier adapter: the notifier module finds every instance of a
 * class carrying it, in any module of the app, when the app starts.
 *
 * ```ts
 * @NotifierAdapter()
 * @Injectable()
 * export class HostTableNotifier implements Notifier {
 *   readonly name = 'host-table';
 *   async send(event: NotificationEvent) { ... }
 * }
 * ```
 * Provide it in any module; `config.notifiers` may then name it (`['host-table']`).
 */
export const NotifierAdapter = DiscoveryService.createDecorator<void>();

import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { Delivery } from './delivery.entity.js';
import { DeliveryDispatcher } from './delivery.dispatcher.js';
import { NotifierRegistry } from './notifier.registry.js';
import { OutboxService } from './outbox.service.js';

/**
 * The port side of notifications: the outbox written in the core's transactions, the
 * dispatcher handing each row to its adapter, and the registry of adapters (every
 * `@NotifierAdapter()` provider of the app). Imported by the core; adapters need only
 * the port (`notifier.port.ts`) and the decorator.
 */
@Module({
  imports: [
    DiscoveryModule,
    TypeOrmModule.forFeature([Delivery], ALERTING_DATA_SOURCE),
  ],
  providers: [NotifierRegistry, DeliveryDispatcher, OutboxService],
  exports: [NotifierRegistry, DeliveryDispatcher, OutboxService],
})
export class NotifierModule {}

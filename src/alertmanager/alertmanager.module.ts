import { Module } from '@nestjs/common';
import { protectControllers } from '../ops/api-key.guard.js';
import { AlertmanagerController } from './alertmanager.controller.js';

protectControllers([AlertmanagerController]);

/** Prometheus Alertmanager's webhook receiver, `POST /v1/alertmanager`. */
@Module({ controllers: [AlertmanagerController] })
export class AlertmanagerModule {}

import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  HOLD_RELEASER,
  INCIDENT_ROUTER,
} from '../alerting/incident-router.port.js';
import { ALERTING_DATA_SOURCE } from '../database/data-source.options.js';
import { protectControllers } from '../ops/api-key.guard.js';
import { Silence } from './silence.entity.js';
import { SilencesController } from './silences.controller.js';
import { SilencesService } from './silences.service.js';
import { HoldReleaseService } from './hold-release.service.js';
import { HoldService } from './hold.service.js';
import { RoutingController } from './routing.controller.js';
import {
  ROUTING_OPTIONS,
  type RoutingModuleOptions,
} from './routing.options.js';
import { RoutingService } from './routing.service.js';

const CONTROLLERS = [RoutingController, SilencesController];
protectControllers(CONTROLLERS);

/**
 * Who gets paged and what holds a page back: the routing file (`/v1/routing`), silences
 * (`/v1/silences`), inhibit rules and `pageAfter`. Global, so the core's incident service
 * and the reconciler find its router and release pass; without this module every incident
 * pages every enabled notifier at once.
 */
@Module({})
export class RoutingModule {
  static forRoot(options: RoutingModuleOptions = {}): DynamicModule {
    return {
      module: RoutingModule,
      global: true,
      imports: [TypeOrmModule.forFeature([Silence], ALERTING_DATA_SOURCE)],
      controllers: CONTROLLERS,
      providers: [
        { provide: ROUTING_OPTIONS, useValue: options },
        RoutingService,
        SilencesService,
        HoldService,
        HoldReleaseService,
        { provide: INCIDENT_ROUTER, useExisting: HoldService },
        { provide: HOLD_RELEASER, useExisting: HoldReleaseService },
      ],
      exports: [
        INCIDENT_ROUTER,
        HOLD_RELEASER,
        RoutingService,
        SilencesService,
        HoldService,
      ],
    };
  }
}

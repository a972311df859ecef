import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { HostTick } from './entities.js';

const TICK_INTERVAL_MS = Number(process.env.TICK_INTERVAL_MS ?? 1000);

/** The host's own scheduled job, on the host's one ScheduleModule.forRoot(). */
@Injectable()
export class TickerJob {
  constructor(
    @InjectRepository(HostTick) private readonly ticks: Repository<HostTick>,
  ) {}

  @Interval('host-ticker', TICK_INTERVAL_MS)
  async tick(): Promise<void> {
    await this.ticks.insert({ at: new Date() });
  }
}

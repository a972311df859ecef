import { Controller, Get, Header, Res } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { AlertingMetrics } from './alerting.metrics.js';

/** Prometheus scrape endpoint; unauthenticated like most exporters, so firewall it. */
@ApiTags('operations')
@SkipThrottle()
@Controller('metrics')
export class MetricsController {
  /** the process's own metrics: the standalone app owns the process */
  private readonly process = new Registry();

  constructor(private readonly moduleRef: ModuleRef) {
    collectDefaultMetrics({ register: this.process });
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  async metrics(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const { registry } = this.moduleRef.get(AlertingMetrics, { strict: false });
    void reply.header('Content-Type', registry.contentType);
    return `${await registry.metrics()}\n${await this.process.metrics()}`;
  }
}

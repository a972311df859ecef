import { Controller, Get, Header, Res } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { AlertingMetrics } from './alerting.metrics.js';

/** Prometheus scrape endpoint; unauthenticated like most exporters, so firewall it. */
@ApiTags('operations')
@SkipThrottle()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly moduleRef: ModuleRef) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  async metrics(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const { registry } = this.moduleRef.get(AlertingMetrics, { strict: false });
    void reply.header('Content-Type', registry.contentType);
    return registry.metrics();
  }
}

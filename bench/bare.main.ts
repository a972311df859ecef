// The baseline: a bare NestJS + Fastify POST endpoint, measured in the same run as the service.
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';

@Controller()
class BareController {
  @Post('v1/alerts')
  @HttpCode(202)
  accept(@Body() body: unknown) {
    return {
      results: [
        {
          dedupKey: 'bare',
          incidentId: null,
          action: 'ignored',
          size: JSON.stringify(body).length,
        },
      ],
    };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

const app = await NestFactory.create<NestFastifyApplication>(
  BareModule,
  new FastifyAdapter(),
  { logger: false },
);
await app.listen(Number(process.env.PORT), '127.0.0.1');

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';
import {
  installGracefulShutdown,
  useAlertingBodyParsers,
} from 'orchestrator-alerting';
import { AppModule } from './app.module.js';

const app = await NestFactory.create<NestFastifyApplication>(
  AppModule,
  new FastifyAdapter(),
);
// Fastify already reads 1 MiB of JSON and text/plain: this keeps it so whatever the
// adapter's bodyLimit, as on Express.
useAlertingBodyParsers(app);
// SIGTERM: stop accepting, drain deliveries in flight, close the connections, exit 0.
installGracefulShutdown(app);
const port = Number(process.env.PORT ?? 3000);
await app.listen(port, process.env.HOST ?? '127.0.0.1');
console.log(`host-fastify listening on ${port}`);

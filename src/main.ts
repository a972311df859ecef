import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { configureApp, createAdapter } from './app.setup.js';
import {
  ConfigValidationError,
  loadAlertingConfig,
} from './config/alerting.config.js';
import { describeConfig } from './ops/boot-log.js';
import { RoutingFileError } from './routing/routing-table.js';
import { loadRoutingFile } from './routing/routing.service.js';
import { installGracefulShutdown } from './ops/shutdown.js';

async function bootstrap() {
  let config;
  try {
    config = loadAlertingConfig(process.env);
    // checked again at module start; here a bad file stops the boot with its own message
    if (config.routingFile)
      loadRoutingFile(
        config.routingFile,
        process.env,
        config.notifiers ?? undefined,
      );
  } catch (error) {
    if (
      error instanceof ConfigValidationError ||
      error instanceof RoutingFileError
    ) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(process.env),
    createAdapter(config),
    {
      bufferLogs: true,
    },
  );
  const logger = app.get(Logger);
  app.useLogger(logger);
  logger.log(
    { msg: 'configuration', config: describeConfig(config) },
    'Bootstrap',
  );
  configureApp(app);
  installGracefulShutdown(app, logger);
  await app.listen(config.port, config.host);
  logger.log(`listening on ${config.host}:${config.port}`, 'Bootstrap');
}
await bootstrap();

import {
  Body,
  Controller,
  ForbiddenException,
  HttpStatus,
  Logger,
  Post,
  Res,
} from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AlertingError } from '../ops/alerting.errors.js';
import { AlertingPublic } from '../ops/public.decorator.js';
import { SnsInboxService, type SnsReceipt } from './sns-inbox.service.js';
import { SnsVerificationError } from './sns-signature.verifier.js';
import { IngestRoute } from '../ops/ingest-route.decorator.js';

/** Failures on our side or AWS's that a retry by SNS can cure; every other one is final. */
const TRANSIENT = new Set(['cert-fetch-failed', 'subscribe-failed']);

/**
 * The SNS HTTP(S) subscription endpoint. SNS cannot send an API key: the message
 * signature authenticates it instead, hence `@AlertingPublic()`.
 */
@ApiTags('sns')
@AlertingPublic()
@IngestRoute('webhook')
@Controller('v1/sns')
export class SnsController {
  private readonly logger = new Logger('Sns');

  constructor(private readonly inbox: SnsInboxService) {}

  @Post()
  @ApiOperation({
    summary:
      'AWS SNS HTTP(S) delivery: subscription confirmations and CloudWatch alarm notifications',
  })
  @ApiConsumes('text/plain', 'application/json')
  @ApiBody({
    description:
      'the SNS message as SNS posts it (JSON, usually as text/plain)',
    schema: { type: 'object' },
  })
  @ApiResponse({
    status: 200,
    description:
      'subscription confirmed, unsubscribe acknowledged, or a repeated MessageId',
  })
  @ApiResponse({
    status: 202,
    description: 'notification ingested, or ignored because it is not an alarm',
  })
  @ApiResponse({
    status: 400,
    description:
      'an authentic CloudWatch alarm outside the input limits (named, e.g. Message.AlarmName); nothing stored, SNS does not retry',
  })
  @ApiResponse({
    status: 403,
    description:
      'not an authentic SNS message for an allowed topic; nothing stored',
  })
  async receive(
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SnsReceipt> {
    let receipt: SnsReceipt;
    try {
      receipt = await this.inbox.receive(body);
    } catch (error) {
      if (!(error instanceof SnsVerificationError)) throw error;
      this.logger.warn(
        `SNS delivery refused (${error.code}): ${error.message}`,
      );
      if (TRANSIENT.has(error.code))
        throw new AlertingError('unavailable', error.message);
      throw new ForbiddenException(`${error.code}: ${error.message}`);
    }
    const accepted =
      receipt.outcome === 'ingested' || receipt.outcome === 'ignored';
    void reply.status(accepted ? HttpStatus.ACCEPTED : HttpStatus.OK);
    return receipt;
  }
}

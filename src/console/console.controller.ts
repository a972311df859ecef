import {
  Controller,
  Get,
  Header,
  NotFoundException,
  Req,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { AlertingPublic } from '../ops/public.decorator.js';
import { ConsoleAssets, type ConsoleFiles } from './console.assets.js';

/**
 * Stricter than the API's policy (which lets the docs UI inline styles): the console
 * needs nothing but its own script, style sheet and API, and no inline anything.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * `GET /console`: the page and its two files. Public (the page holds no data; every API
 * call it makes carries the operator's key), and outside the rate limit, as health is.
 */
@ApiTags('console')
@AlertingPublic()
@SkipThrottle()
@Controller('console')
export class ConsoleController {
  constructor(private readonly assets: ConsoleAssets) {}

  @Get()
  @ApiOperation({
    summary:
      'The operator console (HTML); it asks for an API key when the API needs one',
  })
  @ApiProduces('text/html')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CONSOLE_CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-store')
  @Header('Referrer-Policy', 'no-referrer')
  page(@Req() request: { url?: string }): string {
    // Express also routes `/console/`, where the page's relative links would miss its files
    if (request.url?.split('?')[0].endsWith('/'))
      throw new NotFoundException(
        'the console is at …/console, without a trailing slash',
      );
    return this.file('html');
  }

  @Get('app.js')
  @ApiOperation({ summary: "The console's script" })
  @ApiProduces('text/javascript')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Content-Security-Policy', CONSOLE_CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  script(): string {
    return this.file('js');
  }

  @Get('app.css')
  @ApiOperation({ summary: "The console's style sheet" })
  @ApiProduces('text/css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Content-Security-Policy', CONSOLE_CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  styles(): string {
    return this.file('css');
  }

  private file(name: keyof ConsoleFiles): string {
    const files = this.assets.files;
    if (!files)
      throw new ServiceUnavailableException(
        'the console is not built: run `npm run build`',
      );
    return files[name];
  }
}

import { Controller, Get } from '@nestjs/common';
import { HostPublic } from './bearer-token.guard.js';

@Controller()
export class HostController {
  @HostPublic()
  @Get('health')
  health() {
    return { status: 'ok' };
  }

  @Get('hello')
  hello() {
    return { hello: 'from the host' };
  }
}

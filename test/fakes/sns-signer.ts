// The signer lives with the CLI's simulator (cloudwatch-alarm-cycle needs it); tests keep this path.
export * from '../../src/cli/simulator/sns-signer.js';

// The fake lives with the CLI's simulator (production code ships it); tests keep this path.
export * from '../../src/cli/simulator/fake-pagerduty.js';

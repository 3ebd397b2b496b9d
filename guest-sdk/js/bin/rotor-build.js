#!/usr/bin/env node
// rotor-build: turns a JavaScript or TypeScript plugin module into a Rotor
// component. `rotor-build types` regenerates the WIT type declarations.
import { parseArgs } from 'node:util';
import { build, generateTypes } from '../src/build.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = `usage:
  rotor-build <plugin.js|plugin.ts> -o <plugin.wasm> [--wit <dir>] [--keep <dir>]
  rotor-build types [-o <dir>] [--wit <dir>]

The module's named exports are its handlers: connect, refresh, subscribe,
publish, rpc, subRefresh, mapPublish, mapRemove, sharedPollRefresh,
notifyCacheEmpty, notifyChannelState, subscribeStream (an object of
open/onWake/onClientData), and before/after for an interceptor. The component
imports only the host interfaces (log, config, kv, centrifugo-api, stream)
whose SDK modules the plugin uses.`;

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      wit: { type: 'string' },
      keep: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] === 'types') {
    const sdk = join(dirname(fileURLToPath(import.meta.url)), '..');
    const out = values.output ?? join(sdk, 'types', 'wit');
    const files = await generateTypes(out, { wit: values.wit });
    console.log(`wrote ${files.length} declaration files to ${out}`);
    return 0;
  }
  if (positionals.length !== 1 || !values.output) {
    console.error(USAGE);
    return 2;
  }
  const started = Date.now();
  const built = await build(positionals[0], values.output, { wit: values.wit, keep: values.keep });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${values.output}: ${built.bytes} bytes in ${seconds}s; exports ${built.exports.join(', ')}; imports ${built.imports.join(', ') || 'no host interfaces'}`);
  return 0;
}

main().then((code) => process.exit(code), (error) => {
  console.error(`rotor-build: ${error.message ?? error}`);
  process.exit(1);
});

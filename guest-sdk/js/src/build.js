// Builds a Rotor plugin component from a JavaScript or TypeScript module.
//
// 1. esbuild bundles the module (TypeScript is stripped on the way) and
//    reports its named exports;
// 2. a generated entry wraps each handler export in its WIT export
//    (`connect` → `connect-handler`, `before`/`after` → `interceptor`,
//    `subscribeStream` → `stream-handler`) and is bundled again into one ES
//    module;
// 3. the `rotor:centrifugo/*` modules that bundle imports become the world's
//    imports, so the component asks for exactly the host interfaces it uses
//    (a tenant is only granted some);
// 4. componentize-js turns the bundle into a component for that world.
//
// Nothing here runs inside the component; this file runs under Node.

import { mkdtemp, readdir, copyFile, writeFile, rm, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = 'rotor:centrifugo';
const VERSION = '0.1.0';

/** Handler exports of a plugin module → the WIT interface each one answers. */
export const HANDLER_EXPORTS = {
  connect: { kind: 'connect', wit: 'connect-handler', js: 'connectHandler' },
  refresh: { kind: 'refresh', wit: 'refresh-handler', js: 'refreshHandler' },
  subscribe: { kind: 'subscribe', wit: 'subscribe-handler', js: 'subscribeHandler' },
  publish: { kind: 'publish', wit: 'publish-handler', js: 'publishHandler' },
  rpc: { kind: 'rpc', wit: 'rpc-handler', js: 'rpcHandler' },
  subRefresh: { kind: 'sub-refresh', wit: 'sub-refresh-handler', js: 'subRefreshHandler' },
  mapPublish: { kind: 'map-publish', wit: 'map-publish-handler', js: 'mapPublishHandler' },
  mapRemove: { kind: 'map-remove', wit: 'map-remove-handler', js: 'mapRemoveHandler' },
  sharedPollRefresh: {
    kind: 'shared-poll-refresh', wit: 'shared-poll-refresh-handler', js: 'sharedPollRefreshHandler',
  },
  notifyCacheEmpty: {
    kind: 'notify-cache-empty', wit: 'notify-cache-empty-handler', js: 'notifyCacheEmptyHandler',
  },
  notifyChannelState: {
    kind: 'notify-channel-state', wit: 'notify-channel-state-handler', js: 'notifyChannelStateHandler',
  },
};

/**
 * The stream handler export: an object of callbacks rather than one
 * function, since one instance serves a stream for its whole life.
 */
export const STREAM_EXPORT = 'subscribeStream';

/** Host interfaces a plugin may import, by the SDK module that wraps each. */
export const HOST_INTERFACES = ['log', 'config', 'kv', 'centrifugo-api', 'stream'];

/** Host interfaces that only serve a stream handler: outside a stream, `publish` fails. */
const STREAM_INTERFACES = ['stream'];

/** A WIT name that is a keyword (`stream`) is written with a `%`. */
const witName = (name) => (name === 'stream' ? '%stream' : name);

const SDK_MODULES = {
  '@rotor/sdk': 'src/index.js',
  '@rotor/sdk/log': 'src/log.js',
  '@rotor/sdk/config': 'src/config.js',
  '@rotor/sdk/kv': 'src/kv.js',
  '@rotor/sdk/api': 'src/api.js',
  '@rotor/sdk/jwt': 'src/jwt.js',
  '@rotor/sdk/stream': 'src/stream.js',
};

/**
 * The WIT the SDK is built against by default: its own `wit/` when it is a
 * copy that `rotor new` wrote into a plugin project, else the repository's.
 */
export function defaultWitDir() {
  const own = join(SDK_DIR, 'wit');
  return existsSync(own) ? own : resolve(SDK_DIR, '..', '..', 'wit');
}

/** Resolves `@rotor/sdk` to this SDK, so plugins build without installing it, and keeps host modules external. */
const resolver = {
  name: 'rotor-sdk',
  setup(build) {
    build.onResolve({ filter: /^@rotor\/sdk(\/.*)?$/ }, (args) => {
      const file = SDK_MODULES[args.path];
      if (file === undefined) {
        return { errors: [{ text: `unknown SDK module ${args.path} (one of: ${Object.keys(SDK_MODULES).join(', ')})` }] };
      }
      return { path: join(SDK_DIR, file) };
    });
    build.onResolve({ filter: /^(rotor|wasi):/ }, (args) => ({ path: args.path, external: true }));
  },
};

async function bundle(esbuild, options) {
  const result = await esbuild.build({
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [resolver],
    outfile: 'plugin.js',
    ...options,
  });
  const [output] = Object.values(result.metafile.outputs);
  return { code: result.outputFiles[0].text, output };
}

/** The world for `exports` (handler export names, `before`/`after`) and host `imports`. */
export function composeWorld(worldName, exports, imports) {
  const lines = [`package ${PACKAGE}@${VERSION};`, '', `world ${worldName} {`];
  for (const name of imports) lines.push(`    import ${witName(name)};`);
  for (const name of exports) {
    if (HANDLER_EXPORTS[name]) lines.push(`    export ${HANDLER_EXPORTS[name].wit};`);
  }
  if (exports.includes(STREAM_EXPORT)) lines.push('    export stream-handler;');
  if (exports.includes('before') || exports.includes('after')) lines.push('    export interceptor;');
  lines.push('}', '');
  return lines.join('\n');
}

function entrySource(modulePath, exports) {
  const lines = [
    `import * as plugin from ${JSON.stringify(modulePath)};`,
    'import { exportHandler, exportInterceptor, exportStream } from "@rotor/sdk";',
  ];
  for (const name of exports) {
    const handler = HANDLER_EXPORTS[name];
    if (handler) {
      lines.push(`export const ${handler.js} = exportHandler(${JSON.stringify(handler.kind)}, plugin.${name});`);
    }
  }
  if (exports.includes('before') || exports.includes('after')) {
    lines.push('export const interceptor = exportInterceptor(plugin.before, plugin.after);');
  }
  if (exports.includes(STREAM_EXPORT)) {
    lines.push(`export const streamHandler = exportStream(plugin.${STREAM_EXPORT});`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Builds the component for the plugin module at `input` and writes it to
 * `output`. Returns what went into it: `{ exports, imports, world, bytes }`.
 *
 * Options: `wit` (the WIT directory; default the repository's `wit/`),
 * `keep` (a directory to keep the bundle and world in, for debugging).
 */
export async function build(input, output, options = {}) {
  const esbuild = await import('esbuild');
  const { componentize } = await import('@bytecodealliance/componentize-js');
  // componentize-js reads the WIT through the WASI shim's filesystem, which
  // (since preview2-shim 0.26) starts with no directory preopened: give it
  // the host's, as a command line tool has.
  const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem');
  _setPreopens({ '/': '/' });
  const modulePath = resolve(input);
  const witDir = resolve(options.wit ?? defaultWitDir());
  if (!existsSync(modulePath)) throw new Error(`no such module: ${input}`);
  if (!existsSync(witDir)) throw new Error(`no WIT directory at ${witDir} (pass --wit)`);

  const probe = await bundle(esbuild, { entryPoints: [modulePath] });
  const known = [...Object.keys(HANDLER_EXPORTS), 'before', 'after', STREAM_EXPORT];
  const exports = probe.output.exports.filter((name) => known.includes(name));
  if (exports.length === 0) {
    throw new Error(`${input} exports no handler: export one of ${known.join(', ')}`);
  }

  const final = await bundle(esbuild, {
    stdin: { contents: entrySource(modulePath, exports), resolveDir: dirname(modulePath), sourcefile: 'rotor-entry.js' },
  });
  const imports = [];
  for (const { path, external } of final.output.imports) {
    if (!external) continue;
    const match = /^rotor:centrifugo\/([a-z-]+)@/.exec(path);
    if (match && HOST_INTERFACES.includes(match[1])) {
      if (!imports.includes(match[1])) imports.push(match[1]);
    } else if (!/^rotor:centrifugo\/types@/.test(path)) {
      throw new Error(`${input} imports ${path}, which Rotor does not offer`);
    }
  }
  imports.sort((a, b) => HOST_INTERFACES.indexOf(a) - HOST_INTERFACES.indexOf(b));
  const streamOnly = imports.filter((name) => STREAM_INTERFACES.includes(name));
  if (streamOnly.length > 0 && !exports.includes(STREAM_EXPORT)) {
    throw new Error(`${input} uses @rotor/sdk/${streamOnly[0]}, which only a stream handler may: export \`${STREAM_EXPORT}\``);
  }

  const work = options.keep ? resolve(options.keep) : await mkdtemp(join(tmpdir(), 'rotor-build-'));
  try {
    const worldDir = join(work, 'wit');
    await mkdir(worldDir, { recursive: true });
    for (const file of await readdir(witDir)) {
      if (file.endsWith('.wit')) await copyFile(join(witDir, file), join(worldDir, file));
    }
    const worldName = 'rotor-build-plugin';
    const world = composeWorld(worldName, exports, imports);
    await writeFile(join(worldDir, 'rotor-build-plugin.wit'), world);
    const bundlePath = join(work, 'plugin.js');
    await writeFile(bundlePath, final.code);

    const { component } = await componentize({
      sourcePath: bundlePath,
      witPath: worldDir,
      worldName,
      // No outgoing HTTP: the host grants no sockets.
      disableFeatures: ['http', 'fetch-event'],
    });
    await mkdir(dirname(resolve(output)), { recursive: true });
    await writeFile(output, component);
    return { exports, imports, world, bytes: component.length };
  } finally {
    if (!options.keep) await rm(work, { recursive: true, force: true });
  }
}

/**
 * Writes TypeScript declarations of every WIT interface (the `host` world)
 * into `outDir`, generated by jco's type generator from the WIT sources.
 */
export async function generateTypes(outDir, options = {}) {
  const { readFile } = await import('node:fs/promises');
  const { createRequire } = await import('node:module');
  const witDir = resolve(options.wit ?? defaultWitDir());
  // jco's command line reads WIT through a sandboxed filesystem that cannot
  // see arbitrary paths, so its generator gets the WIT as one source text.
  const transpile = createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile');
  const bindgen = await import(join(dirname(transpile), '..', 'vendor', 'js-component-bindgen-component.js'));
  await bindgen.$init;
  const files = (await readdir(witDir)).filter((file) => file.endsWith('.wit')).sort();
  const bodies = [];
  for (const file of files) {
    bodies.push((await readFile(join(witDir, file), 'utf8')).replace(/^package [^;]+;/m, ''));
  }
  const source = `package ${PACKAGE}@${VERSION};\n${bodies.join('\n')}`;
  const generated = bindgen.generateTypes('host', {
    wit: { tag: 'source', val: source },
    world: 'host',
    tlaCompat: false,
    features: { tag: 'list', val: [] },
    guest: true,
  });
  const written = [];
  for (const [name, contents] of generated) {
    const path = join(outDir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, contents);
    written.push(name);
  }
  return written;
}

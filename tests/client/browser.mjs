// Drives the seat-booking page (plugins/ticket-booking/web) in headless
// Chromium with playwright-core, for Rotor's end-to-end tests. The browser
// is the system's Chromium; none is ever downloaded.
//
// Usage: node browser.mjs --url http://127.0.0.1:PORT/ --screenshot out.png
//                         [--chromium /usr/bin/chromium]
//
// Opens the page twice, as alice and as bob. Alice books a seat, then bob
// another; each page must show the other's seat as taken. Prints one JSON
// line: {"ok": true, "seen_ms": [alice's seat at bob, bob's seat at alice],
// "alice": {seat: state}, "bob": {seat: state}} or {"ok": false, "error": "..."}
// and exits 0 or 1. The screenshot shows both pages side by side.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});

// How long a seat booked in one page may take to show as taken in the other.
const LIVE_UPDATE_MS = 1000;
// Any other wait of the page.
const WAIT_MS = 15000;

const profile = await mkdtemp(join(tmpdir(), 'rotor-chromium-'));
let context;
const problems = [];

async function open(user) {
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`${user}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${user} console: ${message.text()}`);
  });
  await page.setViewportSize({ width: 520, height: 470 });
  await page.goto(`${options.url}?user=${user}`);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: WAIT_MS });
  return page;
}

async function seats(page) {
  return page.$$eval('button.seat', (buttons) =>
    Object.fromEntries(buttons.map((b) => [b.dataset.seat, b.dataset.state])));
}

// Books `seat` in `from`; how long after `from` showed it as its own did
// `to` show it as taken.
async function book(from, to, seat) {
  await from.click(`button[data-seat="${seat}"]`);
  await from.waitForSelector(`button[data-seat="${seat}"][data-state="mine"]`, { timeout: WAIT_MS });
  const booked = Date.now();
  await to.waitForSelector(`button[data-seat="${seat}"][data-state="taken"]`, { timeout: LIVE_UPDATE_MS });
  return Date.now() - booked;
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
    ],
  });
  const alice = await open('alice');
  const bob = await open('bob');
  const seenMs = [await book(alice, bob, 'B4'), await book(bob, alice, 'C5')];
  const result = { ok: true, seen_ms: seenMs, alice: await seats(alice), bob: await seats(bob) };

  // Both pages side by side in one picture.
  const shots = [await alice.screenshot(), await bob.screenshot()];
  const both = await context.newPage();
  await both.setViewportSize({ width: 1064, height: 500 });
  const images = shots
    .map((shot, i) => `<figure><img src="data:image/png;base64,${shot.toString('base64')}">` +
      `<figcaption>${['alice', 'bob'][i]}'s browser</figcaption></figure>`)
    .join('');
  await both.setContent(`<style>body{margin:0;display:flex;gap:8px;padding:4px;background:#455a64;` +
    `font-family:system-ui,sans-serif}figure{margin:0}img{display:block;border-radius:4px}` +
    `figcaption{color:#eceff1;font-size:12px;padding:2px 4px}</style>${images}`);
  await both.screenshot({ path: options.screenshot });

  if (problems.length > 0) throw new Error(problems.join('; '));
  console.log(JSON.stringify(result));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: `${error.message}${problems.length ? ` (${problems.join('; ')})` : ''}` }));
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true });
}

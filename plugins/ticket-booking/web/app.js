// The seat-booking page: Centrifugo's JavaScript SDK (the global
// `Centrifuge` of centrifuge.js) connects to Centrifugo, whose proxies are
// answered by Rotor's plugins.
//
// - The user name comes from `?user=` (a random guest name without it); the
//   page's server signs a token for it (`/token`), which the connect-jwt
//   plugin checks.
// - The seat map is read with the RPC `booking:seats`, seats are booked with
//   `booking:book`, and every booking's new map arrives as a publication on
//   `event:<id>`, which the page subscribes to.
//
// For tests, `#status` carries `data-state` ("connecting", "ready", "error")
// and each seat `data-seat` and `data-state` ("free", "mine", "taken").
'use strict';

const ROWS = ['A', 'B', 'C', 'D'];
const PER_ROW = 8;

const status = document.getElementById('status');
const grid = document.getElementById('seats');
const params = new URLSearchParams(location.search);
const user = params.get('user') || `guest-${Math.random().toString(16).slice(2, 6)}`;
let booked = {};

function say(text, state) {
  status.textContent = text;
  if (state) status.dataset.state = state;
}

function seatState(seat) {
  if (!(seat in booked)) return 'free';
  return booked[seat] === user ? 'mine' : 'taken';
}

function render() {
  for (const button of grid.querySelectorAll('button.seat')) {
    const seat = button.dataset.seat;
    const state = seatState(seat);
    button.className = `seat ${state}`;
    button.dataset.state = state;
    button.disabled = state !== 'free';
    button.title = state === 'free' ? `${seat}: free` : `${seat}: ${booked[seat]}`;
  }
}

function buildGrid(book) {
  for (const row of ROWS) {
    const label = document.createElement('span');
    label.className = 'row';
    label.textContent = row;
    grid.append(label);
    for (let n = 1; n <= PER_ROW; n++) {
      const seat = `${row}${n}`;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'seat';
      button.dataset.seat = seat;
      button.textContent = n;
      button.addEventListener('click', () => book(seat));
      grid.append(button);
    }
  }
  render();
}

// A newer map replaces the shown one; a publication may arrive after the
// answer to `booking:seats` that already included it, so seats are only
// ever added.
function merge(map) {
  booked = { ...booked, ...(map.booked || {}) };
  render();
}

async function main() {
  const config = await (await fetch('config.json')).json();
  document.getElementById('event').textContent = config.event;
  document.getElementById('whoami').textContent = `You are ${user}.`;
  document.title = `Seat booking: ${config.event}`;

  const response = await fetch(`token?user=${encodeURIComponent(user)}`);
  if (!response.ok) throw new Error(`no token: ${await response.text()}`);
  const { token } = await response.json();

  const centrifuge = new Centrifuge(config.centrifugo, { data: { token } });
  const channel = `event:${config.event}`;
  const sub = centrifuge.newSubscription(channel);
  sub.on('publication', (ctx) => merge(ctx.data));

  async function load() {
    const result = await centrifuge.rpc('booking:seats', { event: config.event });
    merge(result.data);
  }

  async function book(seat) {
    say(`booking ${seat}…`);
    try {
      await centrifuge.rpc('booking:book', { event: config.event, seat });
      booked[seat] = user;
      render();
      say(`${seat} is yours.`, 'ready');
    } catch (error) {
      say(`${seat}: ${error.message} (${error.code})`, 'ready');
      await load().catch(() => {});
    }
  }

  buildGrid(book);
  let subscribed = false;
  let loaded = false;
  const ready = () => {
    if (subscribed && loaded) say(`Connected. Pick a seat.`, 'ready');
  };
  sub.on('subscribed', () => { subscribed = true; ready(); });
  centrifuge.on('connected', async () => {
    try {
      await load();
      loaded = true;
      ready();
    } catch (error) {
      say(`could not read the seat map: ${error.message}`, 'error');
    }
  });
  centrifuge.on('disconnected', (ctx) => say(`disconnected: ${ctx.reason}`, 'error'));
  centrifuge.on('error', (ctx) => say(`error: ${ctx.error.message}`, 'error'));
  sub.on('unsubscribed', (ctx) => say(`unsubscribed from ${channel}: ${ctx.reason}`, 'error'));
  sub.subscribe();
  centrifuge.connect();
}

main().catch((error) => say(error.message, 'error'));

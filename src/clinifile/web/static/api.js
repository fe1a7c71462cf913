// The API as the page calls it: every request through one paced queue, so that the page lives
// within its key's rate limit by itself (200 requests a minute by default, shared with any
// other client of the key).
//
// - At most MAX_ACTIVE requests at once; what the user asked for ("interactive": a list, a
//   click) goes before the background work of a batch (presigns, registrations, polling).
// - Every answer says how many requests the key has left (X-RateLimit-Remaining): below a
//   reserve, background requests slow to a steady pace under the limit, so the user's own
//   clicks still get through and the window refills.
// - A 429 (or a 503) pauses the whole queue for its Retry-After, then the same request goes
//   again: a batch recovers without a manual retry.
// - Signing out ends the session: queued and running requests are dropped as Cancelled and
//   never blamed on the key.

import { describeError } from "./format.js";

const KEY_STORAGE = "clinifile.apiKey";
const MAX_ACTIVE = 4;
const MAX_ATTEMPTS = 8; // of one request refused with 429/503
const BACKGROUND_RESERVE = 12; // requests kept for the user while a batch runs

export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
  }
}

// the request belonged to a session that has ended (signed out): nobody is waiting for it
export class Cancelled extends Error {}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function startSession(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

let session = 0;
let onUnauthorized = () => {};

export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

// Ends the session: forgets the key, drops what is queued and aborts what is running.
export function endSession() {
  sessionStorage.removeItem(KEY_STORAGE);
  session += 1;
  for (const queue of Object.values(pacer.queues)) {
    for (const task of queue.splice(0)) task.reject(new Cancelled());
  }
  for (const controller of pacer.running) controller.abort();
}

const pacer = {
  queues: { interactive: [], background: [] },
  running: new Set(), // AbortControllers of requests in flight
  limit: 200, // X-RateLimit-Limit, once an answer has said it
  remaining: null, // X-RateLimit-Remaining of the latest answer
  pausedUntil: 0, // Retry-After of a 429 or 503
  lastBackground: 0,
  timer: null,
};

function spacing() {
  return Math.ceil((60_000 / pacer.limit) * 1.25); // a steady pace a little under the limit
}

function nextTask() {
  if (pacer.running.size >= MAX_ACTIVE) return { wait: null };
  const now = Date.now();
  if (now < pacer.pausedUntil) return { wait: pacer.pausedUntil - now };
  const left = pacer.remaining === null ? pacer.limit : pacer.remaining - pacer.running.size;
  if (pacer.queues.interactive.length) {
    if (left > 0 || pacer.running.size === 0) return { task: pacer.queues.interactive.shift() };
    return { wait: null };
  }
  if (!pacer.queues.background.length) return { wait: null };
  if (left > BACKGROUND_RESERVE) return { task: pacer.queues.background.shift() };
  // low on requests: one at a time, at a pace the window refills faster than
  const due = pacer.lastBackground + spacing();
  if (pacer.running.size === 0 && now >= due) return { task: pacer.queues.background.shift() };
  return { wait: pacer.running.size === 0 ? due - now : null };
}

function pump() {
  clearTimeout(pacer.timer);
  for (;;) {
    const { task, wait } = nextTask();
    if (task) {
      run(task);
      continue;
    }
    if (wait !== null && wait !== undefined) pacer.timer = setTimeout(pump, Math.max(10, wait));
    return;
  }
}

function note(response) {
  const limit = Number(response.headers.get("X-RateLimit-Limit"));
  const remaining = response.headers.get("X-RateLimit-Remaining");
  if (limit > 0) pacer.limit = limit;
  if (remaining !== null) pacer.remaining = Number(remaining);
}

function retryAfterMs(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 1) * 1000;
}

async function run(task) {
  if (task.session !== session) {
    task.reject(new Cancelled());
    return;
  }
  const controller = new AbortController();
  pacer.running.add(controller);
  if (task.priority === "background") pacer.lastBackground = Date.now();
  let response;
  try {
    response = await fetch(task.path, { ...task.init, signal: controller.signal, cache: "no-store" });
  } catch {
    if (task.session !== session) task.reject(new Cancelled());
    else task.reject(new ApiError(0, { message: "the server cannot be reached; check the connection and try again" }));
    return;
  } finally {
    pacer.running.delete(controller);
    setTimeout(pump, 0);
  }
  note(response);
  if ((response.status === 429 || response.status === 503) && task.attempts < MAX_ATTEMPTS) {
    // wait as asked, all of us (the limit is the key's), then send the same request again
    pacer.pausedUntil = Math.max(pacer.pausedUntil, Date.now() + retryAfterMs(response));
    if (response.status === 429) pacer.remaining = 0;
    task.attempts += 1;
    pacer.queues[task.priority].unshift(task);
    pump();
    return;
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (task.session !== session) {
    task.reject(new Cancelled());
    return;
  }
  if (response.status === 401 && task.signOutOn401) onUnauthorized(describeError(401, data));
  if (!response.ok) task.reject(new ApiError(response.status, data));
  else task.resolve(data);
}

// One API request, paced: resolves with the answer's JSON (null for 204), rejects with an
// ApiError, or Cancelled when the session ended before it was answered. A 401 signs out
// (whenUnauthorized), except while signing in.
export function api(path, { method = "GET", body, priority = "interactive", signOutOn401 = true } = {}) {
  const headers = {
    Authorization: "Basic " + btoa(`${apiKey()}:`),
    Accept: "application/json",
    // no Basic challenge on a 401: the browser's own sign-in dialog would hold the request
    "X-Requested-With": "clinifile-app",
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  return new Promise((resolve, reject) => {
    const task = { path, init, priority, session, signOutOn401, attempts: 0, resolve, reject };
    pacer.queues[priority].push(task);
    pump();
  });
}

export function listPath(path, { page, perPage, sort, filters = [] }) {
  const params = new URLSearchParams({ page: String(page), per_page: String(perPage) });
  if (sort) params.set("sort", sort);
  for (const filter of filters) params.append("q[]", filter);
  return `${path}?${params}`;
}

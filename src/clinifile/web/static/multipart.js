// A large file as a resumable multipart upload (the documented extension of API.md:
// /v1/.../attachment_multipart_uploads): the server opens the upload and chooses the part
// size, the browser PUTs the parts straight to the object store, PARALLEL at once, with URLs
// the server signs a batch at a time, then asks the server to complete it. What it gives back
// is the upload_url to register, as a presigned POST's is.
//
// - One progress value for the whole file: the parts done plus the bytes of those in flight.
// - A part that fails is sent again alone; the others go on. A dropped network pauses the
//   upload until the browser is online again, then it goes on from the parts the store holds.
// - The upload is remembered (resume.js): choosing the same file again after a reload asks the
//   server what the store already holds (`uploaded`) and sends only the rest.

import { api, ApiError, Cancelled } from "./api.js";
import { forget, recall, remember, resumeKey } from "./resume.js";

const PARALLEL = 4; // parts in flight at once
const URL_BATCH = 20; // part URLs asked for in one request (the server gives up to 100)
const URL_MARGIN_MS = 60_000; // a part URL this close to its expiry is asked for again
const RESUME_MARGIN_MS = 10 * 60_000; // an upload this close to its expiry starts anew
const STORE_ATTEMPTS = 5; // of one part the store answered with an error
const OFFLINE_ATTEMPTS = 40; // failed sends in a row while the browser says it is online
const MAX_BACKOFF_MS = 15_000;

// the upload was stopped (cancelled, signed out): nothing is wrong with it
export class Stopped extends Error {}

// A send that never reached the store or the server: the network, not the request.
class Unreachable extends Error {}

function unreachable(error) {
  return error instanceof Unreachable || (error instanceof ApiError && error.status === 0);
}

export class MultipartSend {
  constructor(file, patientId, { onProgress = () => {}, onWaiting = () => {} } = {}) {
    this.file = file;
    this.patientId = patientId;
    this.onProgress = onProgress;
    this.onWaiting = onWaiting;
    this.key = resumeKey(patientId, file);
    this.stopped = false;
    this.xhrs = new Set();
    this.wakers = new Set();
    this.urls = new Map(); // part number → { url, until }
    this.loaded = new Map(); // part number → bytes of it sent so far
    this.etags = new Map(); // part number → ETag of the part the store holds
    this.failuresInARow = 0;
  }

  stop() {
    this.stopped = true;
    for (const xhr of this.xhrs) xhr.abort();
    for (const wake of this.wakers) wake();
  }

  // Resolves with the upload_url to register; rejects with Stopped, an ApiError (a 422 is a
  // refusal: too large, over the storage limit) or an Error saying what the store refused.
  async run() {
    const upload = await this.open();
    if (upload.upload_url) return upload.upload_url; // sent and completed before a reload
    this.upload = upload;
    this.report();
    const todo = [];
    for (let number = 1; number <= upload.parts; number += 1) {
      if (!this.etags.has(number)) todo.push(number);
    }
    const workers = Array.from({ length: Math.min(PARALLEL, todo.length) }, () => this.work(todo));
    await Promise.all(workers);
    this.check();
    const parts = [...this.etags].sort((a, b) => a[0] - b[0]).map(([number, etag]) => ({ number, etag }));
    const done = await this.persist(() =>
      api(`/v1/attachment_multipart_uploads/${upload.id}/complete`, {
        method: "POST",
        body: { parts },
        priority: "background",
      }),
    );
    await remember(this.key, { ...upload, upload_url: done.upload_url });
    return done.upload_url;
  }

  // once registered, the file is the server's: nothing left to resume
  finished() {
    return forget(this.key);
  }

  // --- opening or resuming ------------------------------------------------------------------

  async open() {
    const known = await recall(this.key);
    if (known?.upload_url) return known;
    if (known && Date.parse(known.expires_at) - Date.now() > RESUME_MARGIN_MS) {
      const held = await this.held(known);
      if (held) return held;
    }
    if (known) await forget(this.key);
    this.check();
    const body = { filename: this.file.name, size: this.file.size };
    if (this.file.type) body.content_type = this.file.type;
    const created = await this.persist(() =>
      api(`/v1/patients/${this.patientId}/attachment_multipart_uploads`, {
        method: "POST",
        body,
        priority: "background",
      }),
    );
    const record = {
      id: created.id,
      key: created.key,
      url: created.url,
      size: created.size,
      part_size: created.part_size,
      parts: created.parts,
      expires_at: created.expires_at,
    };
    await remember(this.key, record);
    return record;
  }

  // The remembered upload as the server has it now, with the parts the store holds taken as
  // sent; null when it cannot go on (completed, aborted, unknown to this key, another file).
  async held(known) {
    let now;
    try {
      now = await this.persist(() =>
        api(`/v1/attachment_multipart_uploads/${known.id}`, { priority: "background" }),
      );
    } catch (error) {
      if (error instanceof ApiError && [404, 409, 410].includes(error.status)) return null;
      throw error;
    }
    if (now.size !== this.file.size) return null;
    for (const part of now.uploaded ?? []) {
      if (part.number >= 1 && part.number <= now.parts && part.size === this.partSize(part.number, now)) {
        this.etags.set(part.number, part.etag);
      }
    }
    return { ...known, parts: now.parts, part_size: now.part_size, expires_at: now.expires_at };
  }

  partSize(number, upload = this.upload) {
    return Math.min(upload.part_size, upload.size - (number - 1) * upload.part_size);
  }

  // --- sending the parts --------------------------------------------------------------------

  async work(todo) {
    while (todo.length) {
      this.check();
      const number = todo.shift();
      await this.sendPart(number);
    }
  }

  async sendPart(number) {
    let refusals = 0;
    for (;;) {
      this.check();
      try {
        const url = await this.partUrl(number);
        const start = (number - 1) * this.upload.part_size;
        const blob = this.file.slice(start, start + this.partSize(number));
        const etag = await this.put(number, url, blob);
        this.etags.set(number, etag);
        this.loaded.delete(number);
        this.failuresInARow = 0;
        this.onWaiting(false);
        this.report();
        return;
      } catch (error) {
        this.loaded.delete(number);
        this.report();
        if (this.stopped) throw new Stopped();
        if (unreachable(error)) {
          await this.waitForNetwork();
          continue;
        }
        if (error.expired) {
          this.urls.delete(number); // signed too long ago: sign it again
          continue;
        }
        // the server's refusal (the upload completed, aborted, expired) does not change, nor
        // does a session that ended
        if (error instanceof ApiError || error instanceof Cancelled) throw error;
        refusals += 1;
        if (refusals >= STORE_ATTEMPTS) throw error;
        await this.pause(Math.min(MAX_BACKOFF_MS, 500 * 2 ** refusals));
      }
    }
  }

  // the signed PUT URL of a part, asking for it and the next few not yet signed
  async partUrl(number) {
    const have = this.urls.get(number);
    if (have && Date.now() < have.until) return have.url;
    const numbers = [];
    for (let n = number; n <= this.upload.parts && numbers.length < URL_BATCH; n += 1) {
      const known = this.urls.get(n);
      if (!this.etags.has(n) && !(known && Date.now() < known.until)) numbers.push(n);
    }
    const asked = Date.now();
    const answer = await api(`/v1/attachment_multipart_uploads/${this.upload.id}/part_urls`, {
      method: "POST",
      body: { numbers },
      priority: "background",
    });
    const until = asked + answer.expires_in * 1000 - URL_MARGIN_MS;
    for (const [n, url] of Object.entries(answer.urls)) this.urls.set(Number(n), { url, until });
    const got = this.urls.get(number);
    if (!got) throw new Error(`the server signed no URL for part ${number}`);
    return got.url;
  }

  put(number, url, blob) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhrs.add(xhr);
      xhr.open("PUT", url);
      xhr.upload.addEventListener("progress", (event) => {
        this.loaded.set(number, event.loaded);
        this.report();
      });
      xhr.addEventListener("loadend", () => this.xhrs.delete(xhr));
      xhr.addEventListener("load", () => {
        const etag = xhr.getResponseHeader("ETag");
        if (xhr.status >= 200 && xhr.status < 300 && etag) {
          resolve(etag.replaceAll('"', ""));
          return;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          reject(new Error("the file store's answer hides the part's ETag (its CORS rules must expose ETag)"));
          return;
        }
        const xml = new DOMParser().parseFromString(xhr.responseText || "<x/>", "application/xml");
        const code = xml.querySelector("Code")?.textContent ?? String(xhr.status);
        const message = xml.querySelector("Message")?.textContent ?? "";
        const error = new Error(`the file store refused part ${number} of ${this.file.name} (${code})`);
        error.expired = xhr.status === 403 && /expired/i.test(message + code);
        reject(error);
      });
      xhr.addEventListener("error", () => reject(new Unreachable("the file store cannot be reached")));
      xhr.addEventListener("abort", () => reject(new Stopped()));
      xhr.send(blob);
    });
  }

  report() {
    let bytes = 0;
    for (const number of this.etags.keys()) bytes += this.partSize(number);
    for (const sent of this.loaded.values()) bytes += sent;
    this.onProgress(Math.min(1, bytes / this.file.size));
  }

  // --- waiting out a dropped network --------------------------------------------------------

  // An API call again and again while the network is down; its answer or its refusal.
  async persist(call) {
    for (;;) {
      this.check();
      try {
        const answer = await call();
        this.failuresInARow = 0;
        return answer;
      } catch (error) {
        if (!unreachable(error) || this.stopped) throw this.stopped ? new Stopped() : error;
        await this.waitForNetwork();
      }
    }
  }

  // Until the browser is online again (at once if it says it is, then a growing pause); gives
  // up after OFFLINE_ATTEMPTS failures in a row while it says it is online (the store or the
  // server is down, not the network): then Retry goes on from the parts the store holds.
  async waitForNetwork() {
    this.onWaiting(true);
    if (!navigator.onLine) {
      await this.until((wake) => {
        const online = () => wake();
        window.addEventListener("online", online, { once: true });
        return () => window.removeEventListener("online", online);
      });
      this.check();
      return;
    }
    this.failuresInARow += 1;
    if (this.failuresInARow > OFFLINE_ATTEMPTS) {
      throw new Error("the file store cannot be reached; Retry goes on from the parts already sent");
    }
    await this.pause(Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(this.failuresInARow, 6)));
  }

  pause(ms) {
    return this.until((wake) => {
      const timer = setTimeout(wake, ms);
      return () => clearTimeout(timer);
    });
  }

  // waits until wake() is called by what `arm` set up, or the upload is stopped
  async until(arm) {
    let wake;
    const woken = new Promise((resolve) => { wake = resolve; });
    this.wakers.add(wake);
    const disarm = arm(wake);
    try {
      await woken;
    } finally {
      disarm();
      this.wakers.delete(wake);
    }
    this.check();
  }

  check() {
    if (this.stopped) throw new Stopped();
  }
}

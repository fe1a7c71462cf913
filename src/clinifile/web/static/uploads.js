// Uploads: each file goes from the browser straight to the object store with a presigned POST,
// then is registered, then followed by its attachment id until the worker has processed it.
//
// A batch stays within the key's rate limit: one presigned post carries many files (API.md
// allows it: different names under one temp id, within its expiry and its size range), at most
// SENDING_AT_ONCE files go at once, every API call goes through the paced queue (api.js), and
// processing is checked for up to 100 files in one request, less often while files are sent.

import { api, ApiError, Cancelled, listPath } from "./api.js";
import { formatSize, plural } from "./format.js";
import { MultipartSend, Stopped } from "./multipart.js";

const SENDING_AT_ONCE = 4;
const POLL_MS = 1500; // processing checks once every file is sent; growing to POLL_MAX_MS
const POLL_BUSY_MS = 3000; // ... and while files are still being sent
const POLL_MAX_MS = 10_000;
const POST_REUSE_MS = 10 * 60_000; // a presigned post carries files for at most this long
const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024; // when /app/config.json cannot be read

// Files larger than the server's page_multipart_threshold_bytes go as resumable multipart
// uploads (multipart.js), smaller ones in one presigned POST.
let threshold = null;
function multipartThreshold() {
  threshold ??= fetch("/app/config.json", { cache: "no-store" })
    .then((response) => (response.ok ? response.json() : {}))
    .then((config) => config.multipart_threshold_bytes ?? DEFAULT_MULTIPART_THRESHOLD)
    .catch(() => {
      threshold = null; // ask again next time
      return DEFAULT_MULTIPART_THRESHOLD;
    });
  return threshold;
}

const $ = (selector, root = document) => root.querySelector(selector);

// what the files view does when uploads change (set by files.js)
export const hooks = { registered() {}, settled() {}, changed() {} };

class Refused extends Error {} // refused for good (size, storage, empty): Retry cannot help
class UploadCancelled extends Error {}

const all = []; // every Upload in the panel, oldest first
const waiting = []; // Uploads queued to start
let sending = 0;

const ACTIVE = new Set(["waiting", "preparing", "uploading", "registering"]);

// Uploads that leaving the page would lose (registered ones are safe on the server).
export function activeUploads() {
  return all.filter((upload) => ACTIVE.has(upload.phase)).length;
}

// A batch is on its way: files being sent, or registered and not yet processed. The rest of
// the page refreshes less often meanwhile, leaving the key's requests to the batch.
export function uploadsBusy() {
  return activeUploads() > 0 || tracker.pending.size > 0;
}

// --- what a presigned post lets the store take ---------------------------------------------

// The policy's content-length-range (the smaller of the server's file size limit and the
// storage the plan has left), the file size limit alone (max_file_size) so that a refusal can
// say which limit it is, and the policy's expiry. The Python client words both refusals the
// same way (clinifile/client/_uploads.py).
function postLimits(post) {
  let allowed = Infinity;
  let expiresAt = Date.now() + POST_REUSE_MS;
  try {
    const policy = JSON.parse(atob(post.fields.policy));
    const range = policy.conditions.find((c) => Array.isArray(c) && c[0] === "content-length-range");
    if (range) allowed = Number(range[2]);
    const expiry = Date.parse(policy.expiration);
    if (Number.isFinite(expiry)) expiresAt = Math.min(expiresAt, expiry - 60_000);
  } catch {
    // no readable policy: the store's own refusal is the check
  }
  return { allowed, maxFileSize: post.max_file_size ?? allowed, expiresAt };
}

function tooLargeMessage(file, limits) {
  if (file.size > limits.maxFileSize) {
    return `Not uploaded: ${file.name} is ${formatSize(file.size)}; one file may be at most ${formatSize(limits.maxFileSize)}.`;
  }
  return `Not uploaded: ${file.name} is ${formatSize(file.size)}, more than the ${formatSize(limits.allowed)} this account may still store (the storage limit of its plan).`;
}

// The presigned post files share: a file takes the current one when its name is new to it
// (the key is `.../${filename}`) and the bytes sent with it still fit its size range.
const posts = {
  current: null,
  pending: null,

  usable(patientId, file) {
    const c = this.current;
    if (!c || c.patientId !== patientId || Date.now() >= c.limits.expiresAt) return null;
    if (c.names.has(file.name) || c.bytes + file.size > c.limits.allowed) return null;
    return c;
  },

  async take(patientId, file) {
    for (;;) {
      const entry = this.usable(patientId, file);
      if (entry) {
        entry.names.add(file.name);
        entry.bytes += file.size;
        return entry;
      }
      const stale = this.current;
      if (!this.pending) {
        this.pending = api(`/v1/patients/${patientId}/attachment_presigned_post`, { priority: "background" })
          .then((post) => {
            this.current = { patientId, post, limits: postLimits(post), names: new Set(), bytes: 0 };
            return this.current;
          })
          .finally(() => { this.pending = null; });
      }
      const fresh = await this.pending;
      if (file.size > fresh.limits.allowed) throw new Refused(tooLargeMessage(file, fresh.limits));
      // others took the fresh one first (same name, or its room): the next round asks again
      if (!this.usable(patientId, file) && this.current === fresh && fresh !== stale) this.current = null;
    }
  },
};

// --- following registered files until they are processed ------------------------------------

// What a registered file came to, or null while it is still being processed.
export function settledState(record) {
  if (record.processing_completed) return { text: "Processed", kind: "done" };
  if (record.processing_state === "failed") {
    return { text: `Failed: ${record.processing_error ?? "it could not be processed"}`, kind: "failed" };
  }
  if (record.processing_state === "quarantined") {
    // infected: what the scanner found, the server's whole sentence on hover
    const why = record.processing_error ?? "It is not served.";
    if (record.scan?.status === "infected") {
      return { text: `Blocked: infected (${record.scan.signature})`, kind: "failed", title: why };
    }
    return { text: "Blocked: type not accepted", kind: "failed", title: why };
  }
  return null;
}

const tracker = {
  pending: new Map(), // attachment id → its Upload
  timer: null,
  delay: POLL_MS,
  polling: false,

  track(id, upload) {
    this.pending.set(id, upload);
    this.delay = POLL_MS;
    if (!this.timer && !this.polling) this.schedule();
  },

  schedule() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending.size) return;
    const wait = activeUploads() ? Math.max(POLL_BUSY_MS, this.delay) : this.delay;
    this.timer = setTimeout(() => this.poll(), wait);
  },

  async poll() {
    this.timer = null;
    this.polling = true;
    const ids = [...this.pending.keys()].slice(0, 100);
    const filters = [`id:=${ids.join(",")}`, "archived_at:*"];
    let body;
    try {
      body = await api(listPath("/v1/patient_attachments", { page: 1, perPage: 100, filters }), { priority: "background" });
    } catch (error) {
      this.polling = false;
      if (error instanceof Cancelled) return;
      this.delay = Math.min(POLL_MAX_MS, this.delay * 2); // and look again: it recovers
      this.schedule();
      return;
    }
    this.polling = false;
    let settled = 0;
    for (const record of body.patient_attachments) {
      const state = settledState(record);
      if (!state) continue;
      this.pending.get(record.id)?.settle(state);
      this.pending.delete(record.id);
      settled += 1;
    }
    this.delay = settled ? POLL_MS : Math.min(POLL_MAX_MS, Math.round(this.delay * 1.5));
    if (settled) hooks.settled();
    this.schedule();
  },
};

// --- one upload -----------------------------------------------------------------------------

class Upload {
  constructor(file, patientId, description) {
    this.file = file;
    this.patientId = patientId;
    this.description = description;
    this.phase = "new";
    this.el = $("#upload-item").content.firstElementChild.cloneNode(true);
    this.el.dataset.patient = patientId;
    $(".upload-name", this.el).textContent = file.name;
    this.progress = $("progress", this.el);
    this.progress.setAttribute("aria-label", `Upload of ${file.name}`);
    this.stateText = $(".upload-state", this.el);
    this.cancelButton = $(".upload-cancel", this.el);
    this.retryButton = $(".upload-retry", this.el);
    this.cancelButton.setAttribute("aria-label", `Cancel upload of ${file.name}`);
    this.retryButton.setAttribute("aria-label", `Retry upload of ${file.name}`);
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.retryButton.addEventListener("click", () => this.queue());
    $("#uploads").append(this.el);
    all.push(this);
  }

  setPhase(phase, text, kind = "") {
    this.phase = phase;
    this.stateText.textContent = text;
    this.el.className = `upload ${kind}`.trim();
    hooks.changed();
  }

  queue() {
    this.cancelled = false;
    this.retryButton.hidden = true;
    this.cancelButton.hidden = false;
    this.progress.value = 0;
    this.setPhase("waiting", "Waiting…");
    waiting.push(this);
    drain();
  }

  settle(state) {
    this.setPhase(state.kind === "done" ? "done" : "failed", state.text, state.kind);
  }

  async run() {
    this.setPhase("preparing", "Preparing…");
    try {
      if (this.file.size === 0) {
        throw new Refused(`Not uploaded: ${this.file.name} is empty (0 bytes): there is nothing to upload.`);
      }
      const large = this.file.size > (await multipartThreshold());
      const uploadUrl = large ? await this.sendLarge() : await this.sendSmall();
      this.cancelButton.hidden = true;
      this.setPhase("registering", "Registering…");
      const body = { patient_id: String(this.patientId), upload_url: uploadUrl };
      if (this.description) body.description = this.description;
      const record = await api("/v1/patient_attachments", { method: "POST", body, priority: "background" });
      if (large) await this.multipart.finished();
      this.progress.value = 100;
      this.setPhase("processing", "Uploaded; being processed", "done");
      tracker.track(record.id, this);
      hooks.registered();
    } catch (error) {
      this.fail(error);
    }
  }

  fail(error) {
    this.cancelButton.hidden = true;
    if (error instanceof Cancelled) {
      this.setPhase("cancelled", "Cancelled: signed out", "failed");
      return;
    }
    if (error instanceof UploadCancelled) {
      this.retryButton.hidden = false;
      this.setPhase("cancelled", "Cancelled", "failed");
      return;
    }
    // a refusal for size, storage or an empty file does not change on retry; anything else may
    const refused = error instanceof Refused || (error instanceof ApiError && error.status === 422);
    const text = error instanceof ApiError && error.status === 422 ? `Not uploaded: ${error.message}` : error.message;
    this.retryButton.hidden = refused;
    this.setPhase(refused ? "refused" : "failed", refused ? text : `Failed: ${text}`, "failed");
  }

  async sendSmall() {
    const { post, limits } = await posts.take(this.patientId, this.file);
    if (this.cancelled) throw new UploadCancelled();
    this.setPhase("uploading", "Uploading…");
    return post.url + (await this.send(post, limits));
  }

  // in parts, resumed where the store stands (multipart.js); the upload_url to register
  async sendLarge() {
    if (this.cancelled) throw new UploadCancelled();
    this.setPhase("uploading", "Uploading…");
    this.multipart = new MultipartSend(this.file, this.patientId, {
      onProgress: (fraction) => { this.progress.value = Math.floor(fraction * 100); },
      onWaiting: (waiting) => {
        const text = waiting ? "Waiting for the network…" : "Uploading…";
        if (this.stateText.textContent !== text) this.setPhase("uploading", text);
      },
    });
    try {
      return await this.multipart.run();
    } catch (error) {
      if (error instanceof Stopped) throw this.signedOut ? new Cancelled() : new UploadCancelled();
      throw error;
    }
  }

  send(post, limits) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
      form.append("file", this.file, this.file.name); // the file goes last
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open("POST", post.url);
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) this.progress.value = Math.round((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("load", () => {
        this.xhr = null;
        const xml = new DOMParser().parseFromString(xhr.responseText || "<x/>", "application/xml");
        if (xhr.status >= 200 && xhr.status < 300) {
          const key = xml.querySelector("Key")?.textContent;
          resolve(key || post.fields.key.replace("${filename}", this.file.name));
          return;
        }
        const code = xml.querySelector("Code")?.textContent ?? String(xhr.status);
        if (code === "EntityTooLarge") reject(new Refused(tooLargeMessage(this.file, limits)));
        else reject(new Error(`the file store refused the upload (${code})`));
      });
      xhr.addEventListener("error", () => reject(new Error("the file store cannot be reached")));
      xhr.addEventListener("abort", () => reject(this.signedOut ? new Cancelled() : new UploadCancelled()));
      xhr.send(form);
    });
  }

  cancel({ signedOut = false } = {}) {
    this.cancelled = true;
    this.signedOut = signedOut;
    const queued = waiting.indexOf(this);
    if (queued >= 0) {
      waiting.splice(queued, 1);
      this.fail(signedOut ? new Cancelled() : new UploadCancelled());
    }
    if (this.xhr) this.xhr.abort();
    if (this.multipart) this.multipart.stop();
  }
}

function drain() {
  while (sending < SENDING_AT_ONCE && waiting.length) {
    const upload = waiting.shift();
    sending += 1;
    upload.run().finally(() => {
      sending -= 1;
      drain();
      tracker.schedule();
    });
  }
}

// --- the panel ------------------------------------------------------------------------------

export function uploadFiles(files, patientId, description) {
  for (const file of files) new Upload(file, patientId, description).queue();
}

// Shows one patient's uploads (the others go on, out of sight), with the panel's buttons.
export function showUploadsOf(patientId) {
  for (const upload of all) upload.el.hidden = upload.patientId !== patientId;
  updatePanel(patientId);
}

export function updatePanel(patientId) {
  const mine = all.filter((upload) => upload.patientId === patientId);
  const retryable = mine.filter((upload) => !upload.retryButton.hidden);
  const finished = mine.filter((upload) => !ACTIVE.has(upload.phase) && upload.phase !== "processing");
  const processed = mine.filter((upload) => upload.phase === "done");
  const failed = mine.filter((upload) => ["failed", "refused", "cancelled"].includes(upload.phase));
  $("#uploads-bar").hidden = mine.length === 0;
  $("#retry-failed").hidden = retryable.length === 0;
  $("#retry-failed").textContent = `Retry ${plural(retryable.length, "failed upload")}`;
  $("#clear-uploads").hidden = finished.length === 0;
  const summary = mine.length ? `${processed.length} of ${plural(mine.length, "file")} processed` : "";
  $("#uploads-summary").textContent = failed.length ? `${summary} · ${failed.length} not done` : summary;
}

export function retryFailed(patientId) {
  for (const upload of all) {
    if (upload.patientId === patientId && !upload.retryButton.hidden) upload.queue();
  }
}

// Takes finished uploads (processed, refused, failed, cancelled) off the panel.
export function clearFinished(patientId) {
  for (let i = all.length - 1; i >= 0; i -= 1) {
    const upload = all[i];
    if (upload.patientId !== patientId || ACTIVE.has(upload.phase) || upload.phase === "processing") continue;
    upload.el.remove();
    all.splice(i, 1);
  }
}

// Signing out: stops every upload not yet registered and empties the panel.
export function stopAll() {
  for (const upload of [...all]) if (ACTIVE.has(upload.phase)) upload.cancel({ signedOut: true });
  tracker.pending.clear();
  clearTimeout(tracker.timer);
  tracker.timer = null;
  posts.current = null;
  for (const upload of all.splice(0)) upload.el.remove();
}

// clinifile's page for clinic staff: plain JavaScript, no build step, no third-party code.
// The API key lives in sessionStorage (this tab only) and is sent only to this server; files
// go from the browser straight to the object store with the presigned POST of each upload.

const KEY_STORAGE = "clinifile.apiKey";
const PATIENTS_PER_PAGE = 20;
const FILES_PER_PAGE = 25;
const POLL_MS = 1000;

const $ = (selector, root = document) => root.querySelector(selector);

// --- the API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
  }
}

function describeError(status, body) {
  if (body && body.errors) {
    if (body.errors.base) return body.errors.base;
    return Object.entries(body.errors).map(([field, problem]) => `${field.replaceAll("_", " ")} ${problem}`).join("; ");
  }
  if (body && body.message) return body.message;
  return `the server answered ${status}`;
}

async function api(path, { method = "GET", body } = {}) {
  const headers = {
    Authorization: "Basic " + btoa(`${sessionStorage.getItem(KEY_STORAGE)}:`),
    Accept: "application/json",
    // no Basic challenge on a 401: the browser's own sign-in dialog would hold the request
    "X-Requested-With": "clinifile-app",
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, { message: "the server cannot be reached; check the connection and try again" });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401) {
    signOut(`Signed out: ${describeError(401, data)}`);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function listPath(path, { page, perPage, sort, filters = [] }) {
  const params = new URLSearchParams({ page: String(page), per_page: String(perPage) });
  if (sort) params.set("sort", sort);
  for (const filter of filters) params.append("q[]", filter);
  return `${path}?${params}`;
}

// --- small helpers ------------------------------------------------------------------------

function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function say(text, { error = false } = {}) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function cell(row, label, content, className) {
  const td = row.insertCell();
  td.dataset.label = label;
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "";
  return td;
}

function button(text, onClick, label) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

// --- views and routing --------------------------------------------------------------------

const views = ["#sign-in-view", "#patients-view", "#patient-view"];
let viewToken = 0; // bumps on every render, so that stale polls and answers are dropped
// a message for the next view, shown after the navigation that leads there
let flash = { text: "", error: false };

function show(view) {
  for (const id of views) $(id).hidden = id !== view;
  $("#sign-out").hidden = view === "#sign-in-view";
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY_STORAGE);
  history.replaceState(null, "", location.pathname); // no hashchange: render once, here
  flash = { text: message, error: Boolean(message) };
  render();
}

function route() {
  const match = location.hash.match(/^#\/patients\/(\d+)$/);
  return match ? { name: "patient", id: match[1] } : { name: "patients" };
}

function render() {
  viewToken += 1;
  say(flash.text, { error: flash.error });
  flash = { text: "", error: false };
  if (!sessionStorage.getItem(KEY_STORAGE)) {
    show("#sign-in-view");
    $("#api-key").focus();
    return;
  }
  const where = route();
  if (where.name === "patient") {
    show("#patient-view");
    openPatient(where.id, viewToken);
  } else {
    show("#patients-view");
    loadPatients(viewToken);
  }
}

// --- sign in ------------------------------------------------------------------------------

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  sessionStorage.setItem(KEY_STORAGE, key);
  try {
    await api("/v1/patients?per_page=1");
  } catch (error) {
    sessionStorage.removeItem(KEY_STORAGE);
    say(`Not signed in: ${error.message}`, { error: true });
    $("#api-key").select();
    return;
  }
  $("#api-key").value = "";
  location.hash = "#/patients";
  render();
  $("#main").focus();
});

$("#sign-out").addEventListener("click", () => signOut());

// --- patients -----------------------------------------------------------------------------

const patientsQuery = { page: 1, first: "", last: "" };

async function loadPatients(token) {
  const filters = [];
  if (patientsQuery.first) filters.push(`first_name:~${patientsQuery.first}`);
  if (patientsQuery.last) filters.push(`last_name:~${patientsQuery.last}`);
  let body;
  try {
    body = await api(listPath("/v1/patients", { page: patientsQuery.page, perPage: PATIENTS_PER_PAGE, sort: "last_name,first_name", filters }));
  } catch (error) {
    if (token === viewToken) say(`Patients could not be loaded: ${error.message}`, { error: true });
    return;
  }
  if (token !== viewToken) return;
  const tbody = $("#patients-table tbody");
  tbody.replaceChildren();
  for (const patient of body.patients) {
    const row = tbody.insertRow();
    const link = document.createElement("a");
    link.href = `#/patients/${patient.id}`;
    link.textContent = `${patient.first_name} ${patient.last_name}`;
    cell(row, "Name", link);
    cell(row, "Date of birth", patient.date_of_birth ? new Date(`${patient.date_of_birth}T00:00:00`).toLocaleDateString() : "");
    cell(row, "Email", patient.email);
  }
  $("#patients-empty").hidden = body.patients.length > 0;
  const pages = Math.max(1, Math.ceil(body.total_entries / PATIENTS_PER_PAGE));
  $("#patients-page").textContent = `Page ${patientsQuery.page} of ${pages}`;
  $("#patients-prev").disabled = !body.links.previous;
  $("#patients-next").disabled = !body.links.next;
}

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  patientsQuery.first = $("#search-first").value.trim();
  patientsQuery.last = $("#search-last").value.trim();
  patientsQuery.page = 1;
  loadPatients(viewToken);
});
$("#patients-prev").addEventListener("click", () => { patientsQuery.page -= 1; loadPatients(viewToken); });
$("#patients-next").addEventListener("click", () => { patientsQuery.page += 1; loadPatients(viewToken); });

$("#new-patient-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = {};
  for (const [name, value] of new FormData(form)) if (value !== "") body[name] = value;
  try {
    const patient = await api("/v1/patients", { method: "POST", body });
    form.reset();
    $("#new-patient").open = false;
    flash = { text: `Created ${patient.first_name} ${patient.last_name}.`, error: false };
    location.hash = `#/patients/${patient.id}`;
  } catch (error) {
    say(`Patient not created: ${error.message}`, { error: true });
  }
});

// --- one patient's files ------------------------------------------------------------------

const patientState = { id: null, page: 1 };

async function openPatient(id, token) {
  if (patientState.id !== id) {
    patientState.id = id;
    patientState.page = 1;
    $("#uploads").replaceChildren();
    $("#attachments-table tbody").replaceChildren();
  }
  try {
    const patient = await api(`/v1/patients/${id}`);
    if (token !== viewToken) return;
    $("#patient-name").textContent = `${patient.first_name} ${patient.last_name}`;
    const details = [patient.date_of_birth && `born ${patient.date_of_birth}`, patient.email].filter(Boolean);
    $("#patient-details").textContent = details.join(" · ");
    document.title = `${patient.first_name} ${patient.last_name} — clinifile`;
  } catch (error) {
    if (token === viewToken) say(`Patient could not be loaded: ${error.message}`, { error: true });
    return;
  }
  loadFiles(token);
}

async function loadFiles(token) {
  const path = listPath(`/v1/patients/${patientState.id}/patient_attachments`, { page: patientState.page, perPage: FILES_PER_PAGE, sort: "created_at:desc" });
  let body;
  try {
    body = await api(path);
  } catch (error) {
    if (token === viewToken) say(`Files could not be loaded: ${error.message}`, { error: true });
    return;
  }
  if (token !== viewToken) return;
  const tbody = $("#attachments-table tbody");
  tbody.replaceChildren();
  for (const file of body.patient_attachments) {
    tbody.append(fileRow(file));
    if (file.processing_completed) uploadsByAttachment.get(file.id)?.setState("Processed", "done");
  }
  $("#attachments-empty").hidden = body.patient_attachments.length > 0;
  const pages = Math.max(1, Math.ceil(body.total_entries / FILES_PER_PAGE));
  $("#attachments-page").textContent = `Page ${patientState.page} of ${pages}`;
  $("#attachments-prev").disabled = !body.links.previous;
  $("#attachments-next").disabled = !body.links.next;
  // live state: while a file is being processed, look again shortly
  if (body.patient_attachments.some((file) => !file.processing_completed)) {
    setTimeout(() => { if (token === viewToken) loadFiles(token); }, POLL_MS);
  }
}

function fileRow(file) {
  const row = document.createElement("tr");
  row.dataset.id = file.id;
  const done = file.processing_completed;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.filename ?? "(being processed)";
  cell(row, "File", name);
  cell(row, "Type", file.content_type);
  cell(row, "Size", formatSize(file.size), "num");
  cell(row, "Description", file.description);
  cell(row, "Uploaded", formatTime(file.created_at), "time");
  cell(row, "Processed", formatTime(file.processed_at), "time");
  const state = document.createElement("span");
  state.className = done ? "state-done" : "state-pending";
  state.textContent = done ? "Processed" : "Processing…";
  cell(row, "State", state);
  const actions = document.createElement("span");
  actions.className = "upload-actions";
  const label = file.filename ?? `file ${file.id}`;
  if (done) actions.append(button("Download", () => download(file), `Download ${label}`));
  actions.append(button("Archive", () => archive(file), `Archive ${label}`));
  cell(row, "Actions", actions);
  return row;
}

async function download(file) {
  try {
    // JSON instead of the 303: a script cannot read a redirect's Location
    const link = await api(`/v1/patient_attachments/${file.id}/content?redirect=false`);
    const anchor = document.createElement("a");
    anchor.href = link.url; // served with Content-Disposition: attachment
    anchor.rel = "noopener noreferrer";
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    say(`Downloading ${file.filename}.`);
  } catch (error) {
    say(`Download failed: ${error.message}`, { error: true });
  }
}

async function archive(file) {
  if (!confirm(`Archive ${file.filename ?? "this file"}? It leaves this list; its storage still counts.`)) return;
  try {
    await api(`/v1/patient_attachments/${file.id}/archive`, { method: "POST" });
    say(`Archived ${file.filename ?? "the file"}.`);
    loadFiles(viewToken);
  } catch (error) {
    say(`Not archived: ${error.message}`, { error: true });
  }
}

$("#attachments-prev").addEventListener("click", () => { patientState.page -= 1; loadFiles(viewToken); });
$("#attachments-next").addEventListener("click", () => { patientState.page += 1; loadFiles(viewToken); });

// --- uploads: presign, POST to the store with progress, register --------------------------

const uploadsByAttachment = new Map(); // attachment id → its Upload, to show "Processed"

class StoreRefused extends Error {}
class Cancelled extends Error {}

// What the presigned post lets the store take: its policy's content-length-range (the smaller
// of the server's file size limit and the storage the plan has left), and the file size limit
// alone (max_file_size), so that a refusal can say which limit it is. The Python client words
// both the same way (clinifile/client/_uploads.py).
function uploadLimits(post) {
  let allowed = Infinity;
  try {
    const policy = JSON.parse(atob(post.fields.policy));
    const range = policy.conditions.find((c) => Array.isArray(c) && c[0] === "content-length-range");
    if (range) allowed = Number(range[2]);
  } catch {
    // no readable policy: the store's own refusal is the check
  }
  return { allowed, maxFileSize: post.max_file_size ?? allowed };
}

function tooLargeMessage(file, limits) {
  if (file.size > limits.maxFileSize) {
    return `Not uploaded: ${file.name} is ${formatSize(file.size)}; one file may be at most ${formatSize(limits.maxFileSize)}.`;
  }
  return `Not uploaded: ${file.name} is ${formatSize(file.size)}, more than the ${formatSize(limits.allowed)} this account may still store (the storage limit of its plan).`;
}

class Upload {
  constructor(file, patientId) {
    this.file = file;
    this.patientId = patientId;
    this.el = $("#upload-item").content.firstElementChild.cloneNode(true);
    $(".upload-name", this.el).textContent = file.name;
    this.progress = $("progress", this.el);
    this.progress.setAttribute("aria-label", `Upload of ${file.name}`);
    this.stateText = $(".upload-state", this.el);
    this.cancelButton = $(".upload-cancel", this.el);
    this.retryButton = $(".upload-retry", this.el);
    this.cancelButton.setAttribute("aria-label", `Cancel upload of ${file.name}`);
    this.retryButton.setAttribute("aria-label", `Retry upload of ${file.name}`);
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.retryButton.addEventListener("click", () => this.start());
    $("#uploads").append(this.el);
  }

  setState(text, kind = "") {
    this.stateText.textContent = text;
    this.el.className = `upload ${kind}`.trim();
  }

  async start() {
    this.cancelled = false;
    this.retryButton.hidden = true;
    this.cancelButton.hidden = false;
    this.progress.value = 0;
    this.setState("Preparing…");
    try {
      const post = await api(`/v1/patients/${this.patientId}/attachment_presigned_post`);
      const limits = uploadLimits(post);
      if (this.file.size > limits.allowed) throw new StoreRefused(tooLargeMessage(this.file, limits));
      if (this.cancelled) throw new Cancelled();
      this.setState("Uploading…");
      const key = await this.send(post, limits);
      this.cancelButton.hidden = true;
      this.setState("Registering…");
      const record = await api("/v1/patient_attachments", { method: "POST", body: { patient_id: String(this.patientId), upload_url: post.url + key } });
      uploadsByAttachment.set(record.id, this);
      this.progress.value = 100;
      this.setState("Uploaded; being processed", "done");
      loadFiles(viewToken);
    } catch (error) {
      this.cancelButton.hidden = true;
      if (error instanceof Cancelled) {
        this.setState("Cancelled", "failed");
        this.retryButton.hidden = false;
        return;
      }
      const refused = error instanceof StoreRefused || (error instanceof ApiError && error.status === 422);
      const text = error instanceof ApiError && error.status === 422 ? `Not uploaded: ${error.message}` : error.message;
      this.setState(refused ? text : `Failed: ${text}`, "failed");
      // a refusal for size or storage does not change on retry; anything else may
      this.retryButton.hidden = refused;
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
        const xml = new DOMParser().parseFromString(xhr.responseText || "<x/>", "application/xml");
        if (xhr.status >= 200 && xhr.status < 300) {
          const key = xml.querySelector("Key")?.textContent;
          resolve(key || post.fields.key.replace("${filename}", this.file.name));
          return;
        }
        const code = xml.querySelector("Code")?.textContent ?? String(xhr.status);
        if (code === "EntityTooLarge") reject(new StoreRefused(tooLargeMessage(this.file, limits)));
        else reject(new Error(`the file store refused the upload (${code})`));
      });
      xhr.addEventListener("error", () => reject(new Error("the file store cannot be reached")));
      xhr.addEventListener("abort", () => reject(new Cancelled()));
      xhr.send(form);
    });
  }

  cancel() {
    this.cancelled = true;
    if (this.xhr) this.xhr.abort();
  }
}

function uploadAll(files) {
  for (const file of files) new Upload(file, patientState.id).start();
}

const dropzone = $("#dropzone");
dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("over");
  uploadAll([...event.dataTransfer.files]);
});
$("#file-input").addEventListener("change", (event) => {
  uploadAll([...event.target.files]);
  event.target.value = "";
});

window.addEventListener("hashchange", render);
render();

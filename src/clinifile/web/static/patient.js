// One patient: who it is, the account's storage, adding files (with a description), and the
// files table (files.js). A patient that does not exist says so, under no one else's name.

import { api, ApiError, Cancelled } from "./api.js";
import { files, loadFiles, resetFiles, scheduleRefresh } from "./files.js";
import { formatDate, formatSize } from "./format.js";
import { clearFinished, hooks, retryFailed, showUploadsOf, updatePanel, uploadFiles, uploadsBusy } from "./uploads.js";

const STORAGE_REFRESH_MS = 10_000; // the storage line at most this often while a batch runs

const $ = (selector, root = document) => root.querySelector(selector);

let say = () => {};
let isCurrent = () => true;

export function setPatientHooks({ status, current }) {
  say = status;
  isCurrent = current;
}

export async function openPatient(id, token) {
  if (files.patientId !== id) {
    resetFiles(id);
    $("#patient-name").textContent = "Loading…";
    $("#patient-details").textContent = "";
    $("#patient-content").hidden = true;
    document.title = "Patient — clinifile";
  }
  showUploadsOf(id);
  let patient;
  try {
    patient = await api(`/v1/patients/${id}`);
  } catch (error) {
    if (error instanceof Cancelled || !isCurrent(token)) return;
    $("#patient-content").hidden = true;
    if (error instanceof ApiError && error.status === 404) {
      $("#patient-name").textContent = "Patient not found";
      $("#patient-details").textContent = `There is no patient ${id} in this account.`;
      document.title = "Patient not found — clinifile";
    } else {
      $("#patient-name").textContent = "Patient";
      say(`Patient could not be loaded: ${error.message}`, { error: true });
    }
    return;
  }
  if (!isCurrent(token)) return;
  const name = `${patient.first_name} ${patient.last_name}`;
  $("#patient-name").textContent = name;
  const details = [patient.date_of_birth && `born ${formatDate(patient.date_of_birth)}`, patient.email];
  $("#patient-details").textContent = details.filter(Boolean).join(" · ");
  document.title = `${name} — clinifile`;
  // an archived patient takes no new files (the presigned post is refused): say so up front
  $("#patient-archived").hidden = !patient.archived_at;
  $("#add-files").hidden = Boolean(patient.archived_at);
  $("#patient-content").hidden = false;
  loadFiles();
}

// --- the account's storage ------------------------------------------------------------------

const storage = { timer: null, due: 0, last: 0 };

export async function loadStorage() {
  clearTimeout(storage.timer);
  storage.timer = null;
  storage.last = Date.now();
  let account;
  try {
    account = await api("/v1/account", { priority: "background" });
  } catch {
    return; // the line is a help, not a need: it shows again with the next answer
  }
  const line = $("#storage");
  const meter = $("#storage-meter");
  const used = account.storage_used_bytes;
  line.hidden = false;
  if (account.storage_limit_bytes === null) {
    $("#storage-text").textContent = `Storage: ${formatSize(used)} used (no limit on this plan)`;
    meter.hidden = true;
    line.classList.remove("nearly-full");
    return;
  }
  const limit = account.storage_limit_bytes;
  const left = account.storage_remaining_bytes;
  $("#storage-text").textContent = `Storage: ${formatSize(used)} of ${formatSize(limit)} used · ${formatSize(left)} left`;
  meter.hidden = false;
  meter.max = limit;
  meter.value = Math.min(used, limit);
  line.classList.toggle("nearly-full", left < limit * 0.1);
}

function scheduleStorage() {
  const gap = uploadsBusy() ? STORAGE_REFRESH_MS : 500;
  const due = Math.max(Date.now(), storage.last + gap);
  if (storage.timer && storage.due <= due) return;
  clearTimeout(storage.timer);
  storage.due = due;
  storage.timer = setTimeout(loadStorage, due - Date.now());
}

export function hideStorage() {
  clearTimeout(storage.timer);
  storage.timer = null;
  $("#storage").hidden = true;
}

// --- adding files ---------------------------------------------------------------------------

hooks.registered = () => {
  scheduleRefresh();
  scheduleStorage();
};
hooks.settled = () => {
  scheduleRefresh();
  scheduleStorage();
};
hooks.changed = () => updatePanel(files.patientId);

function add(list) {
  if (!list.length || files.patientId === null) return;
  uploadFiles(list, files.patientId, $("#upload-description").value.trim());
}

const dropzone = $("#dropzone");
dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("over");
  add([...event.dataTransfer.files]);
});
$("#file-input").addEventListener("change", (event) => {
  add([...event.target.files]);
  event.target.value = "";
});
$("#retry-failed").addEventListener("click", () => retryFailed(files.patientId));
$("#clear-uploads").addEventListener("click", () => {
  clearFinished(files.patientId);
  updatePanel(files.patientId);
});

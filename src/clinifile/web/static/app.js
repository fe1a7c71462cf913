// clinifile's page for clinic staff: plain JavaScript modules, no build step, no third-party
// code. The API key lives in sessionStorage (this tab only) and is sent only to this server;
// files go from the browser straight to the object store with a presigned POST, or in parts
// (PUTs the server signed) when they are large.
//
//   api.js       every API call through one paced queue (rate limit, Retry-After, sign-out)
//   format.js    sizes, dates, type names, plurals
//   patients.js  the patients list and its search (kept in the address)
//   patient.js   one patient: storage, adding files
//   files.js     the patient's files table
//   uploads.js   uploads, followed by attachment id until processed
//   multipart.js large files in parts, resumed after a dropped network or a reload
//   resume.js    which multipart upload a chosen file continues (IndexedDB)

import { api, apiKey, endSession, startSession, whenUnauthorized } from "./api.js";
import { plural } from "./format.js";
import { hideStorage, loadStorage, openPatient, setPatientHooks } from "./patient.js";
import { loadPatients, setPatientsHooks } from "./patients.js";
import { activeUploads, stopAll } from "./uploads.js";
import { setStatusLine } from "./files.js";

const $ = (selector, root = document) => root.querySelector(selector);

function say(text, { error = false } = {}) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

// --- views and routing --------------------------------------------------------------------

const views = ["#sign-in-view", "#patients-view", "#patient-view"];
let viewToken = 0; // bumps on every render, so that stale answers are dropped
// a message for the next view, shown after the navigation that leads there
let flash = { text: "", error: false };

const current = (token) => token === viewToken;
setStatusLine(say);
setPatientHooks({ status: say, current });
setPatientsHooks({ status: say, next: (text) => { flash = { text, error: false }; }, current });

function show(view) {
  for (const id of views) $(id).hidden = id !== view;
  $("#sign-out").hidden = view === "#sign-in-view";
}

// #/patients/12, or #/patients?first=..&last=..&page=2 (the search survives a reload)
function route() {
  const match = location.hash.match(/^#\/patients\/(\d+)$/);
  if (match) return { name: "patient", id: match[1] };
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const page = Number.parseInt(query.get("page") ?? "1", 10);
  return {
    name: "patients",
    first: query.get("first") ?? "",
    last: query.get("last") ?? "",
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function render() {
  viewToken += 1;
  say(flash.text, { error: flash.error });
  flash = { text: "", error: false };
  if (!apiKey()) {
    show("#sign-in-view");
    hideStorage();
    document.title = "Sign in — clinifile";
    $("#api-key").focus();
    return;
  }
  loadStorage(); // the account's, shown on every view
  const where = route();
  if (where.name === "patient") {
    show("#patient-view");
    openPatient(where.id, viewToken);
  } else {
    show("#patients-view");
    document.title = "Patients — clinifile";
    loadPatients(where, viewToken);
  }
}

// --- signing in and out -------------------------------------------------------------------

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  startSession($("#api-key").value.trim());
  try {
    await api("/v1/patients?per_page=1", { signOutOn401: false });
  } catch (error) {
    endSession();
    say(`Not signed in: ${error.message}`, { error: true });
    $("#api-key").select();
    return;
  }
  $("#api-key").value = "";
  render(); // where the address leads: a patient link opened in a new tab lands on it
  $("#main").focus();
});

function signOut(message = "") {
  stopAll();
  endSession();
  history.replaceState(null, "", location.pathname); // no hashchange: render once, here
  flash = { text: message, error: Boolean(message) };
  render();
}

$("#sign-out").addEventListener("click", () => {
  const running = activeUploads();
  if (running && !confirm(`${plural(running, "upload")} still running. Signing out stops ${running === 1 ? "it" : "them"}: files not yet uploaded are not kept. Sign out?`)) return;
  signOut();
});

// a 401 in this session: the key is unknown or revoked now
whenUnauthorized((message) => signOut(`Signed out: ${message}`));

// leaving or reloading would lose uploads not yet registered
window.addEventListener("beforeunload", (event) => {
  if (!activeUploads()) return;
  event.preventDefault();
  event.returnValue = "";
});

window.addEventListener("hashchange", render);
render();

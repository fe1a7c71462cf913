// One patient's files, as in Cliniko's files tab or a drive: sorted by a column header,
// filtered by name, archived ones shown on request (and unarchived), descriptions edited in
// place, PDFs and images viewed in a new tab, several files selected and downloaded at once.

import { api, Cancelled, listPath } from "./api.js";
import { formatSize, formatTime, plural, typeName } from "./format.js";
import { settledState, uploadsBusy } from "./uploads.js";
import { openViewer, thumbnail } from "./viewer.js";

const FILES_PER_PAGE = 25;
const REFRESH_MS = 1000; // while a listed file is being processed
const REFRESH_BUSY_MS = 4000; // ... and while a batch of uploads is sent or processed
// a file processed while the page is open gets its thumbnail when the worker has made its
// preview, a moment after processing: the list is asked again until then, at most this long
const PREVIEW_WAIT_MS = 20_000;
// what the server serves inline (services/filenames.py INLINE_TYPES): never HTML or SVG
const VIEWABLE = new Set(["application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"]);
const FIRST_DIRECTION = { filename: "", content_type: "", size: ":desc", created_at: ":desc" };

const $ = (selector, root = document) => root.querySelector(selector);

export const files = {
  patientId: null,
  page: 1,
  sort: "created_at:desc",
  name: "",
  archived: false,
  selected: new Map(), // id → record, across pages
  shown: [], // the completed files of the page, as the viewer moves among them
  newestAtOpen: null, // the highest attachment id listed when the patient was opened
  awaitingPreview: new Map(), // id → when it was first listed processed with no preview yet
};

let say = () => {};

export function setStatusLine(fn) {
  say = fn;
}

export function resetFiles(patientId) {
  Object.assign(files, { patientId, page: 1, sort: "created_at:desc", name: "", archived: false });
  files.selected.clear();
  files.newestAtOpen = null;
  files.awaitingPreview.clear();
  $("#files-filter").value = "";
  $("#show-archived").checked = false;
  $("#attachments-table tbody").replaceChildren();
  $("#attachments-empty").hidden = true;
  updateSelection();
}

// --- loading, at a pace that suits a batch --------------------------------------------------

const refresh = { timer: null, loading: false, again: false, last: 0 };

export function scheduleRefresh({ soon = false } = {}) {
  if (refresh.loading) {
    refresh.again = true;
    return;
  }
  if (refresh.timer) {
    if (!soon) return;
    clearTimeout(refresh.timer);
  }
  const gap = uploadsBusy() ? REFRESH_BUSY_MS : REFRESH_MS;
  const wait = soon ? 0 : Math.max(0, refresh.last + gap - Date.now());
  refresh.timer = setTimeout(() => loadFiles({ background: true }), wait);
}

function filters() {
  const list = [];
  if (files.name) list.push(`filename:~${files.name}`);
  if (files.archived) list.push("archived_at:*");
  return list;
}

// The patient's files as the controls ask; `background` for a refresh of its own (a batch's
// requests go first), not for what a person just clicked.
export async function loadFiles({ background = false } = {}) {
  clearTimeout(refresh.timer);
  refresh.timer = null;
  const asked = files.patientId;
  if (asked === null || $("#patient-view").hidden) return;
  refresh.loading = true;
  refresh.last = Date.now();
  const path = listPath(`/v1/patients/${asked}/patient_attachments`, {
    page: files.page, perPage: FILES_PER_PAGE, sort: files.sort, filters: filters(),
  });
  let body;
  try {
    body = await api(path, { priority: background ? "background" : "interactive" });
  } catch (error) {
    refresh.loading = false;
    if (error instanceof Cancelled || asked !== files.patientId) return;
    say(`Files could not be loaded: ${error.message}`, { error: true });
    scheduleRefresh(); // and try again: it recovers by itself
    return;
  }
  refresh.loading = false;
  if (asked !== files.patientId || $("#patient-view").hidden) return;
  render(body);
  const pending = body.patient_attachments.some((file) => !settledState(file) && !file.archived_at);
  if (refresh.again || pending || awaitingPreviews(body.patient_attachments)) {
    refresh.again = false;
    scheduleRefresh();
  }
}

// Whether a file that arrived since the patient was opened is processed but its preview is
// not made yet (it may never be: not every type has one, hence the time limit).
function awaitingPreviews(list) {
  files.newestAtOpen ??= Math.max(0, ...list.map((file) => Number(file.id)));
  const now = Date.now();
  let awaiting = false;
  for (const file of list) {
    if (!file.processing_completed || file.preview || Number(file.id) <= files.newestAtOpen) continue;
    if (!files.awaitingPreview.has(file.id)) files.awaitingPreview.set(file.id, now);
    awaiting ||= now - files.awaitingPreview.get(file.id) < PREVIEW_WAIT_MS;
  }
  return awaiting;
}

function render(body) {
  const tbody = $("#attachments-table tbody");
  // a row whose description is being edited stays as it is: a refresh must not wipe the typing
  const editing = new Map();
  for (const form of tbody.querySelectorAll(".description-form")) {
    const row = form.closest("tr");
    editing.set(row.dataset.id, row);
  }
  files.shown = body.patient_attachments.filter((file) => file.processing_completed);
  tbody.replaceChildren(...body.patient_attachments.map((file) => editing.get(file.id) ?? fileRow(file)));
  const empty = $("#attachments-empty");
  empty.hidden = body.patient_attachments.length > 0;
  empty.textContent = files.name ? "No files match." : "No files yet.";
  const pages = Math.max(1, Math.ceil(body.total_entries / FILES_PER_PAGE));
  $("#attachments-page").textContent = `Page ${files.page} of ${pages} (${plural(body.total_entries, "file")})`;
  $("#attachments-prev").disabled = !body.links.previous;
  $("#attachments-next").disabled = !body.links.next;
  for (const th of document.querySelectorAll("#attachments-table th[data-sort]")) {
    const [field, direction] = files.sort.split(":");
    if (th.dataset.sort === field) th.setAttribute("aria-sort", direction === "desc" ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
  updateSelection();
}

// --- a row ----------------------------------------------------------------------------------

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

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function stateOf(file) {
  if (file.archived_at) return { text: "Archived", kind: "archived", title: `Archived ${formatTime(file.archived_at)}` };
  const settled = settledState(file);
  if (!settled) return { text: "Processing…", kind: "pending", title: "" };
  if (settled.kind === "done") return { text: "Processed", kind: "done", title: `Processed ${formatTime(file.processed_at)}` };
  return { text: settled.text, kind: "failed", title: settled.title ?? "" };
}

function fileRow(file) {
  const row = document.createElement("tr");
  row.dataset.id = file.id;
  const done = file.processing_completed;
  const label = file.filename ?? `file ${file.id}`;
  if (file.archived_at) row.classList.add("archived");

  const pick = document.createElement("input");
  pick.type = "checkbox";
  pick.disabled = !done;
  pick.checked = files.selected.has(file.id);
  pick.setAttribute("aria-label", `Select ${label}`);
  pick.addEventListener("change", () => {
    if (pick.checked) files.selected.set(file.id, file);
    else files.selected.delete(file.id);
    updateSelection();
  });
  cell(row, "Select", pick, "select");

  const about = element("div", "file");
  about.append(element("span", "name", file.filename ?? "(being processed)"));
  about.append(descriptionLine(file, label));
  const look = (shown, from) => openViewer(shown, files.shown, from, download);
  const withThumb = element("div", "file-with-thumb");
  withThumb.append(thumbnail(file, look), about);
  cell(row, "File", withThumb);

  const type = element("span", "", typeName(file.content_type, file.filename ?? ""));
  if (file.content_type) type.title = file.content_type;
  cell(row, "Type", type);
  cell(row, "Size", formatSize(file.size), "num");
  cell(row, "Uploaded", formatTime(file.created_at), "time");
  const state = stateOf(file);
  const shown = element("span", `state-${state.kind}`, state.text);
  if (state.title) shown.title = state.title;
  cell(row, "State", shown);

  const actions = element("span", "row-actions");
  if (done && VIEWABLE.has(file.content_type)) actions.append(button("View", () => view(file), `View ${label}`));
  if (done) actions.append(button("Download", () => download([file]), `Download ${label}`));
  if (file.archived_at) actions.append(button("Unarchive", () => unarchive(file), `Unarchive ${label}`));
  else actions.append(button("Archive", () => archive(file), `Archive ${label}`));
  cell(row, "Actions", actions);
  return row;
}

function descriptionLine(file, label) {
  const line = element("div", "description");
  const text = element("span", "description-text", file.description ?? "");
  const edit = button(file.description ? "Edit" : "Add description", () => editDescription(file, line), `Edit description of ${label}`);
  edit.classList.add("link");
  line.append(text, edit);
  return line;
}

function editDescription(file, line) {
  const form = element("form", "description-form");
  const input = document.createElement("input");
  input.value = file.description ?? "";
  input.maxLength = 255;
  input.setAttribute("aria-label", `Description of ${file.filename ?? `file ${file.id}`}`);
  const save = element("button", "", "Save");
  save.type = "submit";
  const cancel = button("Cancel", () => form.replaceWith(line));
  cancel.classList.add("secondary");
  form.append(input, save, cancel);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") form.replaceWith(line);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const description = input.value.trim() || null;
    try {
      const updated = await api(`/v1/patient_attachments/${file.id}`, { method: "PATCH", body: { description } });
      form.closest("tr").replaceWith(fileRow(updated));
      say(description ? `Description of ${updated.filename ?? "the file"} saved.` : "Description removed.");
    } catch (error) {
      if (!(error instanceof Cancelled)) say(`Description not saved: ${error.message}`, { error: true });
    }
  });
  line.replaceWith(form);
  input.focus();
}

// --- actions --------------------------------------------------------------------------------

function openInNewTab(url) {
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.rel = "noopener noreferrer";
  anchor.target = "_blank";
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}

// Each download in a hidden frame of its own: navigating this page to several attachment
// URLs one after another would let a later navigation cancel an earlier one whose answer
// had not come yet. The frame may download and nothing else (no scripts, no rendering kept).
const FRAME_KEPT_MS = 60_000;

function downloadInFrame(url) {
  const frame = document.createElement("iframe");
  frame.hidden = true;
  frame.setAttribute("sandbox", "allow-downloads");
  frame.src = url;
  document.body.append(frame);
  setTimeout(() => frame.remove(), FRAME_KEPT_MS);
}

async function download(list) {
  for (const file of list) {
    try {
      // JSON instead of the 303: a script cannot read a redirect's Location
      const link = await api(`/v1/patient_attachments/${file.id}/content?redirect=false`);
      downloadInFrame(link.url); // served with Content-Disposition: attachment
    } catch (error) {
      if (!(error instanceof Cancelled)) say(`Download of ${file.filename} failed: ${error.message}`, { error: true });
      return;
    }
  }
  say(list.length === 1 ? `Downloading ${list[0].filename}.` : `Downloading ${plural(list.length, "file")}.`);
}

async function view(file) {
  try {
    const link = await api(`/v1/patient_attachments/${file.id}/content?redirect=false&disposition=inline`);
    openInNewTab(link.url); // a PDF or an image, shown by the browser in a new tab
    say(`Opened ${file.filename} in a new tab.`);
  } catch (error) {
    if (!(error instanceof Cancelled)) say(`${file.filename} cannot be shown: ${error.message}`, { error: true });
  }
}

async function archive(file) {
  if (!confirm(`Archive ${file.filename ?? "this file"}? It leaves this list (Show archived files brings it back); its storage still counts.`)) return;
  try {
    await api(`/v1/patient_attachments/${file.id}/archive`, { method: "POST" });
    files.selected.delete(file.id);
    say(`Archived ${file.filename ?? "the file"}.`);
    scheduleRefresh({ soon: true });
  } catch (error) {
    if (!(error instanceof Cancelled)) say(`Not archived: ${error.message}`, { error: true });
  }
}

async function unarchive(file) {
  try {
    await api(`/v1/patient_attachments/${file.id}/unarchive`, { method: "POST" });
    say(`Unarchived ${file.filename ?? "the file"}: it is back in the list.`);
    scheduleRefresh({ soon: true });
  } catch (error) {
    if (!(error instanceof Cancelled)) say(`Not unarchived: ${error.message}`, { error: true });
  }
}

function updateSelection() {
  const count = files.selected.size;
  const chosen = $("#download-selected");
  chosen.disabled = count === 0;
  chosen.textContent = count ? `Download ${plural(count, "selected file")}` : "Download selected";
  const boxes = [...document.querySelectorAll("#attachments-table tbody input[type=checkbox]:not(:disabled)")];
  const all = $("#select-all");
  all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
  all.disabled = boxes.length === 0;
}

// --- the controls ---------------------------------------------------------------------------

let typing = null;
$("#files-filter").addEventListener("input", (event) => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    files.name = event.target.value.trim();
    files.page = 1;
    loadFiles();
  }, 300);
});
$("#show-archived").addEventListener("change", (event) => {
  files.archived = event.target.checked;
  files.page = 1;
  loadFiles();
});
$("#select-all").addEventListener("change", (event) => {
  for (const box of document.querySelectorAll("#attachments-table tbody input[type=checkbox]:not(:disabled)")) {
    if (box.checked !== event.target.checked) box.click();
  }
});
$("#download-selected").addEventListener("click", () => download([...files.selected.values()]));
for (const th of document.querySelectorAll("#attachments-table th[data-sort]")) {
  $("button", th).addEventListener("click", () => {
    const field = th.dataset.sort;
    const [current, direction] = files.sort.split(":");
    const flipped = direction === "desc" ? "" : ":desc";
    files.sort = current === field ? `${field}${flipped}` : `${field}${FIRST_DIRECTION[field]}`;
    files.page = 1;
    loadFiles();
  });
}
$("#attachments-prev").addEventListener("click", () => { files.page -= 1; loadFiles(); });
$("#attachments-next").addEventListener("click", () => { files.page += 1; loadFiles(); });

// Previews on the page: a thumbnail beside each file (loaded only when its row comes into
// view) and a viewer dialog with the large preview, the file's details, Download, and
// Previous/Next between the files listed. Esc closes it, the arrow keys move, and focus goes
// back to the row it was opened from. Every preview URL is asked of the API (audited, like a
// download) and remembered until shortly before it expires.

import { api, Cancelled } from "./api.js";
import { formatSize, formatTime, typeName } from "./format.js";

const SAFETY_MS = 30_000; // a remembered URL is asked again this long before it expires
const urls = new Map(); // `${id}:${size}` → { url, until }

// the viewer's styles, from this server (style-src 'self')
const sheet = document.createElement("link");
sheet.rel = "stylesheet";
sheet.href = "/app/viewer.css";
document.head.append(sheet);

async function previewUrl(file, size, priority) {
  const key = `${file.id}:${size}`;
  const known = urls.get(key);
  if (known && known.until > Date.now()) return known.url;
  const link = await api(`/v1/patient_attachments/${file.id}/preview?size=${size}&redirect=false`, { priority });
  urls.set(key, { url: link.url, until: Date.now() + link.expires_in * 1000 - SAFETY_MS });
  return link.url;
}

const seen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    seen.unobserve(entry.target);
    const img = entry.target;
    previewUrl({ id: img.dataset.id }, "small", "background")
      .then((url) => { img.src = url; })
      .catch((error) => {
        if (!(error instanceof Cancelled)) img.closest(".thumb")?.classList.add("thumb-none");
      });
  }
}, { rootMargin: "200px" });

// The thumbnail of a row: a button that opens the viewer (an image with the file's name as
// its alt text), or an empty box for a file that has no preview.
export function thumbnail(file, open) {
  const label = file.filename ?? `file ${file.id}`;
  if (!file.processing_completed || !file.preview) {
    const none = document.createElement("span");
    none.className = "thumb thumb-none";
    none.setAttribute("aria-hidden", "true");
    return none;
  }
  const b = document.createElement("button");
  b.type = "button";
  b.className = "thumb";
  b.setAttribute("aria-label", `Preview ${label}`);
  const img = document.createElement("img");
  img.alt = label;
  img.loading = "lazy";
  img.decoding = "async";
  img.dataset.id = file.id;
  b.append(img);
  b.addEventListener("click", () => open(file, b));
  seen.observe(img);
  return b;
}

// --- the viewer -----------------------------------------------------------------------------

const dialog = document.createElement("dialog");
dialog.id = "viewer";
dialog.setAttribute("aria-labelledby", "viewer-title");
dialog.innerHTML = `
  <div class="viewer-head">
    <h3 id="viewer-title"></h3>
    <button type="button" class="secondary" data-act="close" aria-label="Close the viewer">Close</button>
  </div>
  <div class="viewer-image"><img alt=""><p class="viewer-none" hidden>No preview of this file.</p></div>
  <dl class="viewer-details"></dl>
  <div class="viewer-actions">
    <button type="button" class="secondary" data-act="prev">Previous</button>
    <span class="viewer-position" aria-live="polite"></span>
    <button type="button" class="secondary" data-act="next">Next</button>
    <button type="button" data-act="download">Download</button>
  </div>`;
document.body.append(dialog);

const viewer = { list: [], index: 0, returnTo: null, download: null, shown: 0 };
const q = (selector) => dialog.querySelector(selector);

function details(file) {
  const rows = [
    ["Type", typeName(file.content_type, file.filename ?? "")],
    ["Size", formatSize(file.size)],
    ["Uploaded", formatTime(file.created_at)],
    ["Description", file.description ?? "—"],
  ];
  q(".viewer-details").replaceChildren(...rows.flatMap(([term, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }));
}

async function show(index) {
  viewer.index = index;
  const file = viewer.list[index];
  const turn = ++viewer.shown;
  q("#viewer-title").textContent = file.filename ?? `file ${file.id}`;
  details(file);
  q(".viewer-position").textContent = `${index + 1} of ${viewer.list.length}`;
  q('[data-act="prev"]').disabled = index === 0;
  q('[data-act="next"]').disabled = index === viewer.list.length - 1;
  const img = q(".viewer-image img");
  img.removeAttribute("src");
  img.alt = file.filename ?? "";
  img.hidden = !file.preview;
  q(".viewer-none").hidden = Boolean(file.preview);
  if (!file.preview) return;
  try {
    const url = await previewUrl(file, "large", "interactive");
    if (turn === viewer.shown) img.src = url;
  } catch (error) {
    if (turn === viewer.shown && !(error instanceof Cancelled)) {
      img.hidden = true;
      q(".viewer-none").hidden = false;
    }
  }
}

function move(step) {
  const next = viewer.index + step;
  if (next >= 0 && next < viewer.list.length) show(next);
}

// Opens the viewer on file, moving among list (the completed files shown); focus goes back
// to returnTo when it closes.
export function openViewer(file, list, returnTo, download) {
  viewer.list = list.length ? list : [file];
  viewer.returnTo = returnTo;
  viewer.download = download;
  const index = Math.max(0, viewer.list.findIndex((f) => f.id === file.id));
  dialog.showModal();
  show(index);
  q('[data-act="close"]').focus();
}

dialog.addEventListener("click", (event) => {
  const act = event.target.closest("[data-act]")?.dataset.act;
  if (act === "close") dialog.close();
  else if (act === "prev") move(-1);
  else if (act === "next") move(1);
  else if (act === "download") viewer.download?.([viewer.list[viewer.index]]);
  else if (event.target === dialog) dialog.close(); // a tap outside the box
});
dialog.addEventListener("keydown", (event) => {
  if (event.key === "ArrowLeft") { event.preventDefault(); move(-1); }
  else if (event.key === "ArrowRight") { event.preventDefault(); move(1); }
});
dialog.addEventListener("close", () => {
  const row = viewer.returnTo?.closest("tr");
  // the row may have been drawn again meanwhile: its new thumbnail, else its first button
  const again = row?.dataset.id
    && document.querySelector(`#attachments-table tr[data-id="${row.dataset.id}"] .thumb, #attachments-table tr[data-id="${row.dataset.id}"] button`);
  (row?.isConnected ? viewer.returnTo : again || viewer.returnTo)?.focus();
});

// swipes at phone width: left for the next file, right for the previous
let touchX = null;
dialog.addEventListener("touchstart", (event) => { touchX = event.touches[0].clientX; }, { passive: true });
dialog.addEventListener("touchend", (event) => {
  if (touchX === null) return;
  const dx = event.changedTouches[0].clientX - touchX;
  touchX = null;
  if (Math.abs(dx) > 50) move(dx < 0 ? 1 : -1);
});

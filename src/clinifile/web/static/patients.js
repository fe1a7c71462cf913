// The patients list: found by name (accents and case ignored by the server), paged. The search
// lives in the address (#/patients?last=curie&page=2), so a reload or the back button keeps it.

import { api, Cancelled, listPath } from "./api.js";
import { formatDate } from "./format.js";

const PATIENTS_PER_PAGE = 20;

const $ = (selector, root = document) => root.querySelector(selector);

let say = () => {};
let flash = () => {};
let isCurrent = () => true;

export function setPatientsHooks({ status, next, current }) {
  say = status;
  flash = next;
  isCurrent = current;
}

function searchHash({ first, last, page }) {
  const params = new URLSearchParams();
  if (first) params.set("first", first);
  if (last) params.set("last", last);
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  return query ? `#/patients?${query}` : "#/patients";
}

export async function loadPatients(query, token) {
  $("#search-first").value = query.first;
  $("#search-last").value = query.last;
  const filters = [];
  if (query.first) filters.push(`first_name:~${query.first}`);
  if (query.last) filters.push(`last_name:~${query.last}`);
  let body;
  try {
    body = await api(listPath("/v1/patients", { page: query.page, perPage: PATIENTS_PER_PAGE, sort: "last_name,first_name", filters }));
  } catch (error) {
    if (!(error instanceof Cancelled) && isCurrent(token)) say(`Patients could not be loaded: ${error.message}`, { error: true });
    return;
  }
  if (!isCurrent(token)) return;
  const tbody = $("#patients-table tbody");
  tbody.replaceChildren();
  for (const patient of body.patients) {
    const row = tbody.insertRow();
    const link = document.createElement("a");
    link.href = `#/patients/${patient.id}`;
    link.textContent = `${patient.first_name} ${patient.last_name}`;
    const cells = [["Name", link], ["Date of birth", formatDate(patient.date_of_birth)], ["Email", patient.email ?? ""]];
    for (const [label, content] of cells) {
      const td = row.insertCell();
      td.dataset.label = label;
      td.append(content);
    }
  }
  $("#patients-empty").hidden = body.patients.length > 0;
  const pages = Math.max(1, Math.ceil(body.total_entries / PATIENTS_PER_PAGE));
  $("#patients-page").textContent = `Page ${query.page} of ${pages}`;
  $("#patients-prev").disabled = !body.links.previous;
  $("#patients-next").disabled = !body.links.next;
  const prev = $("#patients-prev");
  const next = $("#patients-next");
  prev.onclick = () => { location.hash = searchHash({ ...query, page: query.page - 1 }); };
  next.onclick = () => { location.hash = searchHash({ ...query, page: query.page + 1 }); };
}

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const wanted = searchHash({ first: $("#search-first").value.trim(), last: $("#search-last").value.trim(), page: 1 });
  if (location.hash === wanted) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = wanted;
});

$("#new-patient-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = {};
  for (const [name, value] of new FormData(form)) if (value !== "") body[name] = value;
  try {
    const patient = await api("/v1/patients", { method: "POST", body });
    form.reset();
    $("#new-patient").open = false;
    flash(`Created ${patient.first_name} ${patient.last_name}.`);
    location.hash = `#/patients/${patient.id}`;
  } catch (error) {
    if (!(error instanceof Cancelled)) say(`Patient not created: ${error.message}`, { error: true });
  }
});

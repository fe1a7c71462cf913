// Where the page remembers its multipart uploads, so that choosing the same file again after a
// reload (or a crash, or a closed tab) resumes it: IndexedDB, one record a file, keyed by the
// patient and the file's name, size and last-modified time. A record holds the upload's id and
// shape as the server gave them (never a key, a URL's signature or the file's bytes); what the
// store already holds is asked of the server (GET .../attachment_multipart_uploads/{id}), never
// taken from here.
//
// IndexedDB may be missing or refuse (a private window, a full disk): then nothing is
// remembered, and uploads still work; they just start again after a reload.

const DB_NAME = "clinifile";
const STORE = "multipart_uploads";

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve) => {
      let request;
      try {
        request = indexedDB.open(DB_NAME, 1);
      } catch {
        resolve(null);
        return;
      }
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    });
  }
  return opening;
}

async function transact(mode, act) {
  const db = await open();
  if (!db) return undefined;
  return new Promise((resolve) => {
    let result;
    try {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      request.onsuccess = () => { result = request.result; };
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => resolve(undefined);
      tx.onabort = () => resolve(undefined);
    } catch {
      resolve(undefined);
    }
  });
}

export function resumeKey(patientId, file) {
  return JSON.stringify([String(patientId), file.name, file.size, file.lastModified]);
}

// the record of this file's multipart upload, or undefined
export function recall(key) {
  return transact("readonly", (store) => store.get(key));
}

export function remember(key, record) {
  return transact("readwrite", (store) => store.put(record, key));
}

export function forget(key) {
  return transact("readwrite", (store) => store.delete(key));
}

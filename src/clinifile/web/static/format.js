// How the page writes things: sizes (as the Python client does: clinifile/client/_uploads.py),
// dates and times in the browser's locale, types as people say them, counts with plurals.

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return plural(bytes, "byte");
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// one format for every date and time on the page: the browser's locale, medium dates
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatTime(iso) {
  return iso ? TIME.format(new Date(iso)) : "";
}

// a date of birth is a calendar date, not a moment: read it at local midnight
export function formatDate(isoDate) {
  return isoDate ? DATE.format(new Date(`${isoDate}T00:00:00`)) : "";
}

const TYPE_NAMES = {
  "application/pdf": "PDF",
  "image/png": "PNG image",
  "image/jpeg": "JPEG image",
  "image/gif": "GIF image",
  "image/webp": "WebP image",
  "image/tiff": "TIFF image",
  "image/bmp": "BMP image",
  "image/heic": "HEIC image",
  "image/heif": "HEIF image",
  "image/svg+xml": "SVG image",
  "application/dicom": "DICOM image",
  "application/msword": "Word document",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
  "application/vnd.ms-excel": "Excel spreadsheet",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel spreadsheet",
  "application/vnd.ms-powerpoint": "PowerPoint presentation",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint presentation",
  "application/vnd.oasis.opendocument.text": "OpenDocument text",
  "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument spreadsheet",
  "application/vnd.oasis.opendocument.presentation": "OpenDocument presentation",
  "application/rtf": "Rich text document",
  "text/rtf": "Rich text document",
  "text/plain": "Text",
  "text/csv": "CSV table",
  "text/html": "HTML page",
  "application/json": "JSON",
  "application/xml": "XML",
  "text/xml": "XML",
  "application/zip": "ZIP archive",
  "application/gzip": "GZIP archive",
  "application/x-tar": "TAR archive",
  "application/x-7z-compressed": "7-Zip archive",
  "application/vnd.rar": "RAR archive",
  "application/x-rar-compressed": "RAR archive",
  "video/mp4": "MP4 video",
  "video/quicktime": "QuickTime video",
  "video/webm": "WebM video",
  "video/x-msvideo": "AVI video",
  "audio/mpeg": "MP3 audio",
  "audio/wav": "WAV audio",
  "audio/x-wav": "WAV audio",
  "audio/mp4": "M4A audio",
  "audio/ogg": "Ogg audio",
  "message/rfc822": "Email",
  // programs: blocked by default (CLINIFILE_BLOCKED_CONTENT_TYPES), whatever their name says
  "application/x-msdownload": "Windows program",
  "application/x-executable": "Linux program",
  "application/x-mach-binary": "macOS program",
  "application/octet-stream": "File",
};

// A content type as people say it ("Word document"); the exact type goes in a tooltip and
// stays in the API. Anything unknown says what kind it is, or the file's extension.
export function typeName(contentType, filename = "") {
  if (!contentType) return "";
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (TYPE_NAMES[type]) return TYPE_NAMES[type];
  const [kind, sub = ""] = type.split("/");
  if (kind === "image") return sub.length <= 8 ? `${sub.toUpperCase()} image` : "Image";
  const kinds = { video: "Video", audio: "Audio", text: "Text", font: "Font" };
  if (kinds[kind]) return kinds[kind];
  const extension = filename.includes(".") ? filename.split(".").pop() : "";
  return extension && extension.length <= 5 ? `${extension.toUpperCase()} file` : "File";
}

export function describeError(status, body) {
  if (body && body.errors) {
    if (body.errors.base) return body.errors.base;
    return Object.entries(body.errors).map(([field, problem]) => `${field.replaceAll("_", " ")} ${problem}`).join("; ");
  }
  if (body && body.message) return body.message;
  return `the server answered ${status}`;
}

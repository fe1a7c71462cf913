// clinifile's resumable multipart uploads driven by @uppy/aws-s3 in multipart mode: the
// glue docs/UPPY.md shows, word for word, and tests/uppy/test_uppy.py runs with the real
// @uppy/core and @uppy/aws-s3 in Chromium against a real server.
//
//   uppy.use(AwsS3, clinifileMultipart({ apiKey, patientId, partSize }));
//   uppy.on("upload-success", (file, response) => registerAttachment({ ... }));

const MiB = 1024 * 1024;

// The part size the server chooses (services/multipart_uploads.part_size_for): 5 MiB, or
// more so that no upload has more than 10,000 parts; Uppy's own default is the same rule.
export const serverPartSize = (size) => Math.max(5 * MiB, Math.ceil(size / 10_000));

export function clinifileMultipart({ server = "", apiKey, patientId, partSize = serverPartSize }) {
  const call = async (method, path, body, signal) => {
    const response = await fetch(server + path, {
      method,
      signal,
      headers: {
        Authorization: `Basic ${btoa(`${apiKey}:`)}`,
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-Requested-With": "uppy", // no browser sign-in dialog on a 401
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${data?.message ?? ""}`);
    return data;
  };
  const uploads = "/v1/attachment_multipart_uploads";
  return {
    shouldUseMultipart: true,
    // Uppy cuts the file before it asks for the upload: cut it as the server will
    getChunkSize: (file) => partSize(file.size),
    async createMultipartUpload(file) {
      const body = { filename: file.name, size: file.size };
      if (file.type) body.content_type = file.type;
      const upload = await call("POST", `/v1/patients/${patientId}/attachment_multipart_uploads`, body);
      return { uploadId: upload.id, key: upload.key };
    },
    async signPart(file, { uploadId, partNumber, signal }) {
      const { urls } = await call("POST", `${uploads}/${uploadId}/part_urls`, { numbers: [partNumber] }, signal);
      return { method: "PUT", url: urls[String(partNumber)] };
    },
    async listParts(file, { uploadId, signal }) {
      const upload = await call("GET", `${uploads}/${uploadId}`, undefined, signal);
      return upload.uploaded.map((part) => ({ PartNumber: part.number, Size: part.size, ETag: part.etag }));
    },
    async completeMultipartUpload(file, { uploadId, parts, signal }) {
      const body = { parts: parts.map((part) => ({ number: part.PartNumber, etag: part.ETag.replaceAll('"', "") })) };
      const done = await call("POST", `${uploads}/${uploadId}/complete`, body, signal);
      return { location: done.upload_url }; // Uppy's response.uploadURL
    },
    async abortMultipartUpload(file, { uploadId, signal }) {
      await call("DELETE", `${uploads}/${uploadId}`, undefined, signal);
    },
    // the parts' answers must expose ETag (the bucket's CORS rules); Uppy retries a part alone
    retryDelays: [0, 1000, 3000, 5000],
  };
}

// Step 3, as after a presigned POST: the completed object becomes the patient's attachment.
export async function registerAttachment({ server = "", apiKey, patientId, uploadUrl, description }) {
  const body = { patient_id: String(patientId), upload_url: uploadUrl };
  if (description) body.description = description;
  const response = await fetch(`${server}/v1/patient_attachments`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${btoa(`${apiKey}:`)}`,
      Accept: "application/json",
      "Content-Type": "application/json",
      "X-Requested-With": "uppy",
    },
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(`POST /v1/patient_attachments: ${response.status} ${data?.message ?? ""}`);
  return data;
}

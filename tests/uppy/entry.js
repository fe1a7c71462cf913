// The test's page script (bundled by esbuild into one file, tests/uppy/test_uppy.py): the real
// @uppy/core and @uppy/aws-s3 with clinifile's glue, and a count of each glue call.
import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";
import { clinifileMultipart, registerAttachment } from "./glue.js";

const calls = {};

function counted(options) {
  for (const [name, value] of Object.entries(options)) {
    if (typeof value !== "function" || name === "getChunkSize") continue;
    options[name] = (...args) => {
      calls[name] = (calls[name] ?? 0) + 1;
      return value(...args);
    };
  }
  return options;
}

// Uploads the chosen file; pauses it after `pauseAfterParts` parts and resumes it (Uppy then
// asks listParts what the store holds), then registers it. Resolves with what happened.
window.uploadWithUppy = ({ apiKey, patientId, pauseAfterParts = 0 }) =>
  new Promise((resolve) => {
    const uppy = new Uppy({ autoProceed: false });
    const glue = clinifileMultipart({ apiKey, patientId });
    const parts = []; // as Uppy reports them uploaded
    const listed = []; // what listParts said the store held
    let afterListing = null; // parts uploaded after that answer
    const listParts = glue.listParts;
    glue.listParts = async (...args) => {
      const held = await listParts(...args);
      listed.push(...held.map((part) => part.PartNumber));
      afterListing = [];
      return held;
    };
    uppy.use(AwsS3, counted(glue));
    const file = document.querySelector("#file").files[0];
    const id = uppy.addFile({ name: file.name, type: file.type, data: file });
    let paused = false;
    uppy.on("s3-multipart:part-uploaded", (_file, part) => {
      parts.push(part.PartNumber);
      afterListing?.push(part.PartNumber);
      if (!paused && pauseAfterParts && parts.length >= pauseAfterParts) {
        paused = true;
        uppy.pauseResume(id);
        setTimeout(() => uppy.pauseResume(id), 500);
      }
    });
    uppy.on("upload-success", async (_file, response) => {
      try {
        const record = await registerAttachment({ apiKey, patientId, uploadUrl: response.uploadURL });
        resolve({ record, parts, calls, paused, listed, afterListing });
      } catch (error) {
        resolve({ error: String(error), parts, calls });
      }
    });
    uppy.on("upload-error", (_file, error) => resolve({ error: String(error), parts, calls }));
    // an uploader that threw ends the upload with neither event: say so rather than wait
    uppy.on("complete", (result) => {
      if (!result.successful.every((done) => done.progress.uploadComplete)) {
        resolve({ error: "Uppy ended without uploading the file", parts, calls });
      }
    });
    uppy.upload();
  });

// Starts the chosen file and cancels it after its first part: Uppy aborts the upload.
window.cancelWithUppy = ({ apiKey, patientId }) =>
  new Promise((resolve) => {
    const uppy = new Uppy({ autoProceed: false });
    let uploadId = null;
    const glue = clinifileMultipart({ apiKey, patientId });
    const create = glue.createMultipartUpload;
    glue.createMultipartUpload = async (file) => {
      const made = await create(file);
      uploadId = made.uploadId;
      return made;
    };
    const abort = glue.abortMultipartUpload;
    glue.abortMultipartUpload = async (file, options) => {
      await abort(file, options);
      resolve({ uploadId, aborted: true });
    };
    uppy.use(AwsS3, glue);
    const file = document.querySelector("#file").files[0];
    uppy.addFile({ name: file.name, type: file.type, data: file });
    uppy.on("s3-multipart:part-uploaded", () => uppy.cancelAll());
    uppy.on("upload-error", (_file, error) => resolve({ uploadId, error: String(error) }));
    uppy.upload();
  });

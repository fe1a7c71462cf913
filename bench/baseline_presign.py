"""The baseline a user would write instead of clinifile's presign endpoint: a bare FastAPI
endpoint calling boto3's generate_presigned_post, with no auth, no database, no quota, one
boto3 client built once (one a process), served by uvicorn exactly as clinifile is.

    python -m bench.baseline_presign --port 8100 [--workers 2]
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import boto3
import uvicorn
from botocore.config import Config
from fastapi import FastAPI

app = FastAPI()
s3 = boto3.session.Session().client(
    "s3",
    endpoint_url="http://127.0.0.1:9",  # signing is local: nothing is sent
    region_name="ap-southeast-2",
    aws_access_key_id="BASELINEKEY",
    aws_secret_access_key="baseline-secret",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)


@app.get("/v1/patients/{patient_id}/attachment_presigned_post")
def presigned_post(patient_id: int) -> dict[str, Any]:
    prefix = f"1/patients/{patient_id}/attachments/temp/{uuid.uuid4().hex}/"
    post = s3.generate_presigned_post(
        Bucket="clinifile-au1",
        Key=prefix + "${filename}",
        Fields={"acl": "private", "success_action_status": "201"},
        Conditions=[
            {"acl": "private"},
            {"success_action_status": "201"},
            ["starts-with", "$key", prefix],
            ["content-length-range", 1, 5 * 1024**3],
        ],
        ExpiresIn=3600,
    )
    return {"url": "http://127.0.0.1:9/clinifile-au1/", "fields": post["fields"]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.baseline_presign:app" if args.workers > 1 else app,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        server_header=False,
    )

"""The copy-paste example `serve` prints: the three steps of the upload with curl."""

from __future__ import annotations

SNIPPET = r"""KEY='{key}'
BASE='{base}'
UA='me (me@example.com)'
printf '%%PDF-1.4\n%% clinifile demo\n' > test.pdf
# 1. ask for a presigned post
curl -s -u "$KEY:" -A "$UA" "$BASE/v1/patients/{patient_id}/attachment_presigned_post" > post.json
# 2. upload straight to the object store (every field, then the file last)
eval "$(python3 -c 'import json,shlex; p=json.load(open("post.json")); print("URL="+shlex.quote(p["url"])); print("FORM=("+" ".join(shlex.quote("-F"+k+"="+v) for k,v in p["fields"].items())+")")')"
curl -s "${{FORM[@]}}" -F 'file=@test.pdf' "$URL"; echo
# 3. register the upload: upload_url is URL + Key
UPLOAD_URL="$URL$(python3 -c 'import json; print(json.load(open("post.json"))["fields"]["key"].replace("${{filename}}", "test.pdf"))')"
curl -s -u "$KEY:" -A "$UA" -H 'Content-Type: application/json' \
  -d "{{\"patient_id\":\"{patient_id}\",\"upload_url\":\"$UPLOAD_URL\",\"description\":\"Custom description\"}}" \
  "$BASE/v1/patient_attachments" > attachment.json; cat attachment.json; echo
ID=$(python3 -c 'import json; print(json.load(open("attachment.json"))["id"])')
# 4. wait for processing, then download the same bytes
for _ in $(seq 150); do
  curl -s -u "$KEY:" -A "$UA" "$BASE/v1/patient_attachments/$ID" | grep -q '"processing_completed":true' && break
  sleep 0.2
done
curl -s -L -u "$KEY:" -A "$UA" "$BASE/v1/patient_attachments/$ID/content" -o downloaded.pdf
cmp test.pdf downloaded.pdf && echo 'downloaded the same bytes'
"""


def curl_snippet(*, base: str, key: str, patient_id: int) -> str:
    return SNIPPET.format(base=base, key=key, patient_id=patient_id)

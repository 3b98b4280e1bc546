#!/usr/bin/env bash
# Builds the Lambda layer: the cashline package (shared/) and its runtime dependencies, as wheels
# for Lambda's platform (x86_64, Python 3.11), under layers/build/python/.
# boto3/botocore are left out: the Lambda runtime ships them, and they are the largest part.
set -euo pipefail
cd "$(dirname "$0")/.."
out=layers/build/python
rm -rf layers/build && mkdir -p "$out"
.venv/bin/python - <<'PY' > layers/build/requirements.txt
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.startswith(("boto3", "botocore"))))
PY
.venv/bin/pip install --quiet --target "$out" --platform manylinux2014_x86_64 --implementation cp \
    --python-version 3.11 --only-binary=:all: -r layers/build/requirements.txt
# PynamoDB pulls botocore in; the Lambda runtime already has it (and boto3, s3transfer, urllib3).
rm -rf "$out"/botocore "$out"/botocore-* "$out"/boto3 "$out"/boto3-* "$out"/s3transfer "$out"/s3transfer-* \
    "$out"/urllib3 "$out"/urllib3-* "$out"/bin
cp -r shared/cashline "$out/"
find "$out" -name '__pycache__' -prune -exec rm -rf {} +
du -sh layers/build | sed 's/^/layer size: /'

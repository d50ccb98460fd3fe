#!/usr/bin/env bash
# Build one Lambda artifact without Docker: the runtime dependencies pinned in uv.lock, as wheels
# for the Lambda platform, then only the packages of this repository that the handler imports.
#
#   scripts/build-lambda.sh ARTIFACTS_DIR PACKAGE...
#
# LAMBDA_AWS_SERVICES, when set, names the AWS services the function calls: botocore's models of
# the others (over 400 services, most of its size) are left out.
# LAMBDA_EXTRAS names the pyproject extras the function needs beside the common dependencies
# (api, processor). LAMBDA_PLATFORM and LAMBDA_PYTHON choose the wheels (default: Lambda's arm64 python3.13); the
# build smoke test sets them to this machine's to import the artifact. UV is the uv to use.
set -euo pipefail

if (($# < 2)); then
    echo "usage: $0 ARTIFACTS_DIR PACKAGE..." >&2
    exit 2
fi
mkdir -p "$1"
artifacts_dir=$(cd "$1" && pwd)
shift
uv=${UV:-.uv/bin/uv}
platform=${LAMBDA_PLATFORM:-aarch64-manylinux2014}
python_version=${LAMBDA_PYTHON:-3.13}

cd "$(dirname "$0")/.."
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT

extras=()
for extra in ${LAMBDA_EXTRAS:-}; do
    extras+=(--extra "$extra")
done

# Runtime dependencies only: the function's extras, not local or dev, not the project itself;
# with their hashes.
"$uv" export --frozen --no-dev --no-emit-project --no-header --quiet "${extras[@]}" \
    --format requirements-txt --output-file "$requirements"
# Binary wheels only: an sdist would be compiled for this machine, not for Lambda.
"$uv" pip install --quiet --no-deps --require-hashes --requirement "$requirements" \
    --target "$artifacts_dir" --python-platform "$platform" --python-version "$python_version" \
    --only-binary :all:

for package in "$@"; do
    if [[ ! -f "$package/__init__.py" ]]; then
        echo "$package is not a package of this repository" >&2
        exit 2
    fi
    rm -rf "${artifacts_dir:?}/$package"
    cp -R "$package" "$artifacts_dir/$package"
done
if [[ -n "${LAMBDA_AWS_SERVICES:-}" ]]; then
    for model in "$artifacts_dir"/botocore/data/*/; do
        service=$(basename "$model")
        if [[ " $LAMBDA_AWS_SERVICES " != *" $service "* ]]; then
            rm -rf "$model"
        fi
    done
fi
# Console scripts (their shebang names this machine's Python) and bytecode compiled for this
# machine's Python have no use on Lambda.
rm -rf "${artifacts_dir:?}/bin"
find "$artifacts_dir" -name __pycache__ -type d -prune -exec rm -rf {} +

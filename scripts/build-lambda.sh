#!/usr/bin/env bash
# Build one Lambda artifact without Docker: the runtime dependencies pinned in uv.lock, as wheels
# for the Lambda platform, then only the files of this repository that the handler imports.
#
#   scripts/build-lambda.sh ARTIFACTS_DIR MODULE...
#
# MODULE names a handler's module (app.main, processor.handler, deploy_hooks.pre_traffic): it and
# every module of this repository it imports, directly or not, are copied
# (scripts/module_files.py), nothing else.
#
# LAMBDA_AWS_SERVICES, when set, names the AWS services the function calls: botocore's models of
# the others (over 400 services, most of its size) are left out.
# LAMBDA_EXTRAS names the pyproject extras the function needs beside the common dependencies
# (api, processor; none for the deployment hook). LAMBDA_PLATFORM and LAMBDA_PYTHON choose the
# wheels (default: Lambda's arm64 python3.13); the build smoke test sets them to this machine's
# to import the artifact. UV is the uv to use.
set -euo pipefail

if (($# < 2)); then
    echo "usage: $0 ARTIFACTS_DIR MODULE..." >&2
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

files=$("${PYTHON:-python3}" scripts/module_files.py "$@")
for package in $(cut -d/ -f1 <<<"$files" | sort -u); do
    rm -rf "${artifacts_dir:?}/$package"
done
for file in $files; do
    mkdir -p "$artifacts_dir/$(dirname "$file")"
    cp "$file" "$artifacts_dir/$file"
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

# Lambda's code directory is read-only, so Python cannot cache the bytecode it compiles: without
# .pyc files in the artifact, every cold start compiles every module it imports. Compile them
# here with an interpreter of Lambda's version, if this machine has one (LAMBDA_BYTECODE_PYTHON,
# python3.13 on PATH, or a pyenv version); unchecked hashes, since the zip does not keep mtimes.
find_python() {
    local root candidate
    root=$(pyenv root 2>/dev/null || true)
    for candidate in "${LAMBDA_BYTECODE_PYTHON:-}" "python$python_version" \
        "$root"/versions/"$python_version".*/bin/"python$python_version"; do
        [[ -n "$candidate" ]] || continue
        if [[ $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
            2>/dev/null) == "$python_version" ]]; then
            echo "$candidate"
            return
        fi
    done
}
python=$(find_python)
if [[ -n "$python" ]]; then
    "$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$artifacts_dir" >/dev/null
else
    echo "note: no Python $python_version here; the artifact has no bytecode (slower cold starts)" >&2
fi

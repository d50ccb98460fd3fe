# The API under uvicorn. By default it runs the same local stack as `make run` (embedded AWS
# emulator, tables and queues from template.yaml, the queue poller); with LOCAL_STACK=false it
# serves the API alone, on the AWS resources its environment names (see README, "Docker").
ARG PYTHON_IMAGE=python:3.13.9-slim-bookworm
ARG UV_VERSION=0.13.8

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# Dependencies, exactly as uv.lock pins them, in a virtual environment built once.
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/srv/.venv
WORKDIR /srv
COPY pyproject.toml uv.lock ./
# The runtime dependencies and the `local` extra (uvicorn, moto, pyyaml); the code is copied as
# is in the final stage, so the project itself is not installed.
RUN uv sync --frozen --no-install-project --no-editable --extra local

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
WORKDIR /srv
COPY --from=build /srv/.venv /srv/.venv
COPY template.yaml ./
COPY app ./app
COPY processor ./processor
COPY notifier ./notifier
# The local stack writes where it runs with the operator tools' model (ops/config.py).
COPY ops ./ops
COPY local ./local
ENV PATH=/srv/.venv/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000
USER 10001:10001
EXPOSE 8000
# python -m local supervises its children: it stops them on SIGTERM (docker stop) and reaps them.
CMD ["python", "-m", "local"]

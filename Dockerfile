# Caravan API / worker image for docker-compose (production-like runs).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY schemas ./schemas
COPY db ./db
RUN pip install . && useradd --system --uid 10001 caravan
USER caravan
EXPOSE 8000
CMD ["caravan", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--migrate"]

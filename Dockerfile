# The totpkit server with the PostgreSQL driver; used by compose.yaml (see docs/DEPLOYING.md).
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk ./sdk
COPY server ./server
RUN pip install --no-cache-dir ".[server,postgres]" && useradd --system --home-dir /var/lib/totpkit totpkit \
    && mkdir -p /var/lib/totpkit && chown totpkit /var/lib/totpkit
USER totpkit
WORKDIR /var/lib/totpkit
ENTRYPOINT ["totpkit"]

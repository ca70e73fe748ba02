# The worker image: non-root, pinned base.
FROM python:3.11.7-slim-bookworm
RUN useradd --create-home --uid 10001 app
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams streams
COPY agents agents
COPY schemas schemas
COPY standards standards
RUN pip install --no-cache-dir '.[rocksdb,fast]'
USER app
ENV STATE_STORE=rocksdb:// DATA_DIR=/home/app/data WEB_BIND=0.0.0.0 WEB_PORT=6066 CLOCK=wall
EXPOSE 6066
ENTRYPOINT ["seller-standards"]
CMD ["worker", "-l", "info"]

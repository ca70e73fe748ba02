# The worker image: non-root, pinned base. docker-compose.yml runs it as
# worker-1, worker-2 (`seller-standards worker`) and simulator.
FROM python:3.11.7-slim-bookworm
RUN useradd --create-home --uid 10001 app
WORKDIR /app
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY streams streams
COPY agents agents
COPY schemas schemas
COPY standards standards
RUN pip install --no-cache-dir -c constraints.txt '.[fast]'
# The state directory exists and belongs to `app`, so that a named volume
# mounted on it starts with that owner.
RUN mkdir -p /home/app/data && chown app:app /home/app/data
USER app
ENV DATA_DIR=/home/app/data WEB_BIND=0.0.0.0 WEB_PORT=6066 CLOCK=wall
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['WEB_PORT'], timeout=3)"]
ENTRYPOINT ["seller-standards"]
CMD ["worker", "-l", "info"]

# tcs-registry in a container: every plugin installed, running as a non-root user, reports written to
# the mounted /reports directory.
#
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/reports" tcs-registry \
#       registry https://registry.example.com --mode=dry-run
#
# (--user: the reports belong to you and the mounted directory need not be writable by uid 10001.)
# Built from the wheels in dist/ (scripts/build-dists.sh). BASE is any Debian-like image with Python
# 3.11+; scripts/build-image.sh builds it offline with buildah from a debootstrap root instead.
ARG BASE=python:3.12-slim-bookworm
FROM ${BASE}
# a CA bundle for a TLS-intercepting proxy on the way to PyPI (mounted at build time, not kept)
ARG PIP_CERT
COPY dist/ /tmp/dist/
# our wheels by file (the core and every plugin; .dockerignore leaves out the rest), libraries from PyPI,
# psycopg for a PostgreSQL store (the postgres extra) and the console's web stack (the console extra)
RUN python3 -m venv /opt/tcs-registry \
 && /opt/tcs-registry/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_CERT:+--cert "$PIP_CERT"} \
        /tmp/dist/*.whl 'psycopg[binary]>=3.1' 'fastapi>=0.110' 'uvicorn>=0.29' 'jinja2>=3.1' 'python-multipart>=0.0.9' \
 && rm -rf /tmp/dist \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tcs \
 && mkdir -p /reports \
 && chown tcs /reports
ENV PATH=/opt/tcs-registry/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/home/tcs
USER tcs
WORKDIR /reports
ENTRYPOINT ["tcs-registry"]
CMD ["--help"]

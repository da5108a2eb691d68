"""`phi-documents`: maintenance commands for stored documents.

    phi-documents reembed        # after changing PHI_EMBEDDING_PROVIDER / _MODEL / _DIM
    phi-documents index-tenants  # own HNSW index for organizations with many chunks
    phi-documents migrate-storage --to s3://bucket/prefix  # files into an object store

Re-embedding recomputes every chunk's vector with the configured provider, in batches of
whole documents, each batch written with one COPY into a temporary table and one UPDATE; each
document's units (what search matches on) are cut again and rewritten as ingestion cuts them
(the workers also give units to documents stored before units existed, without this command:
``units_backfill.py``). When the new model's dimension differs from the column's, the column
is retyped and the organizations' own HNSW indexes are rebuilt after the vectors are written;
until the command finishes, search returns only chunks already re-embedded. Memories are
re-embedded after the documents.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

warnings.filterwarnings("ignore", module="platformdirs")


def reembed(batch_size: int = 256) -> int:
    from phi_core_api.documents.chunking import Chunk, document_units, embedding_text
    from phi_core_api.documents.ingest import connect, write_units
    from phi_core_api.settings import CoreApiSettings
    from phi_llm.embeddings import get_embedding_provider
    from phi_search.tenant_index import TABLES, ensure_tenant_indexes

    settings = CoreApiSettings()
    provider = get_embedding_provider(settings)
    with connect(settings.libpq_database_url) as conn:
        current = conn.execute(
            "SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = 'document_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()
        current_dim = int(current[0]) if current else -1
        if current_dim != provider.dim:
            print(f"vector column is {current_dim}-d, model gives {provider.dim}-d: retyping")
            with conn.transaction():
                # Organizations' own indexes are rebuilt below, once the vectors exist.
                for _, prefix in TABLES:
                    for (name,) in conn.execute(
                        "SELECT relname FROM pg_class WHERE relkind = 'i' AND relname LIKE %s",
                        (prefix + "%",),
                    ).fetchall():
                        conn.execute(f'DROP INDEX IF EXISTS "{name}"')
                for table, _ in TABLES:
                    conn.execute(
                        f"ALTER TABLE {table} ALTER COLUMN embedding "
                        f"TYPE vector({int(provider.dim)}) USING NULL"
                    )
                    # A new type takes the type's default storage (EXTERNAL); the vectors are
                    # kept in the row (migration 0010).
                    conn.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE MAIN")
        done = 0
        last_doc = None
        started = time.perf_counter()
        while True:
            # Whole documents per batch (about batch_size chunks, at least one document):
            # units are cut per document, as ingestion cuts them.
            counts = conn.execute(
                "SELECT document_id, count(*) FROM document_chunks "
                "WHERE (%(last)s::uuid IS NULL OR document_id > %(last)s) "
                "GROUP BY document_id ORDER BY document_id LIMIT %(n)s",
                {"last": last_doc, "n": batch_size},
            ).fetchall()
            if not counts:
                break
            doc_ids: list[Any] = []
            total = 0
            for doc_id, n in counts:
                if doc_ids and total + n > batch_size:
                    break
                doc_ids.append(doc_id)
                total += n
            rows = conn.execute(
                "SELECT id, chunk_text, metadata->'heading_path', chunk_index, document_id, "
                "org_id, agent_id FROM document_chunks WHERE document_id = ANY(%s) "
                "ORDER BY document_id, chunk_index",
                (doc_ids,),
            ).fetchall()
            documents: dict[Any, list[Any]] = {}
            for r in rows:
                documents.setdefault(r[4], []).append(r)
            chunks = {
                doc: [Chunk.stored(r[3], r[1], r[2]) for r in doc_rows]
                for doc, doc_rows in documents.items()
            }
            units = {d: document_units(cs) for d, cs in chunks.items()}
            all_chunks = [c for cs in chunks.values() for c in cs]
            all_units = [cu for us in units.values() for cu in us]
            vectors = provider.embed_passages(
                [embedding_text(c.heading_path, c.text) for c in all_chunks]
                + [embedding_text(c.heading_path, u.text) for c, u in all_units]
            )
            chunk_vectors, unit_vectors = vectors[: len(all_chunks)], vectors[len(all_chunks) :]
            with conn.transaction():
                # The workers' units backfill writes under the same row locks, so the two
                # never both write a document's units.
                conn.execute(
                    "SELECT 1 FROM documents WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                    (doc_ids,),
                )
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS reembed_batch (id uuid, embedding vector) "
                    "ON COMMIT DELETE ROWS"
                )
                with conn.cursor().copy("COPY reembed_batch (id, embedding) FROM STDIN") as copy:
                    for row, vector in zip(rows, chunk_vectors, strict=True):
                        copy.write_row((row[0], vector))
                conn.execute(
                    "UPDATE document_chunks c SET embedding = b.embedding "
                    "FROM reembed_batch b WHERE c.id = b.id"
                )
                conn.execute("DELETE FROM document_units WHERE document_id = ANY(%s)", (doc_ids,))
                at = 0
                for doc_id, doc_rows in documents.items():
                    doc_units = units[doc_id]
                    write_units(
                        conn,
                        {"org_id": doc_rows[0][5], "agent_id": doc_rows[0][6]},
                        doc_id,
                        {r[3]: r[0] for r in doc_rows},
                        doc_units,
                        unit_vectors[at : at + len(doc_units)],
                    )
                    at += len(doc_units)
            done += len(rows)
            last_doc = doc_ids[-1]
            print(f"re-embedded {done} chunks and their {len(all_units)} units", flush=True)
        memories = reembed_memories(conn, provider, batch_size)
        ensure_tenant_indexes(conn, settings.search_tenant_index_min_chunks)
        print(
            f"done: {done} chunks and {memories} memories with "
            f"{provider.name}/{provider.model} ({provider.dim}-d) "
            f"in {time.perf_counter() - started:.1f}s"
        )
    return done


def reembed_memories(conn: Any, provider: Any, batch_size: int) -> int:
    """Every memory's vector again with ``provider`` (memories share the documents' model);
    returns how many were written."""
    done = 0
    last = None
    while True:
        rows = conn.execute(
            "SELECT id, text FROM memories WHERE (%(last)s::uuid IS NULL OR id > %(last)s) "
            "ORDER BY id LIMIT %(n)s",
            {"last": last, "n": batch_size},
        ).fetchall()
        if not rows:
            return done
        vectors = provider.embed_passages([r[1] for r in rows])
        with conn.transaction():
            for (memory_id, _), vector in zip(rows, vectors, strict=True):
                conn.execute(
                    "UPDATE memories SET embedding = %s WHERE id = %s", (vector, memory_id)
                )
        done += len(rows)
        last = rows[-1][0]
        print(f"re-embedded {done} memories", flush=True)


def index_tenants(min_chunks: int | None = None) -> list[str]:
    from phi_core_api.documents.ingest import connect
    from phi_core_api.settings import CoreApiSettings
    from phi_search.tenant_index import ensure_tenant_indexes

    settings = CoreApiSettings()
    threshold = settings.search_tenant_index_min_chunks if min_chunks is None else min_chunks
    with connect(settings.libpq_database_url) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        created = ensure_tenant_indexes(conn, threshold)
    print(f"done: {len(created)} index(es) built for organizations with >= {threshold} chunks")
    return created


def migrate_storage(source_url: str | None, target_url: str | None) -> bool:
    from phi_core_api.documents.ingest import connect
    from phi_core_api.documents.storage_migration import migrate_files
    from phi_core_api.settings import CoreApiSettings
    from phi_core_api.storage import storage_from_url

    settings = CoreApiSettings()
    target_url = target_url or settings.storage_url
    if not target_url:
        print("name the target store: --to s3://bucket/prefix (or set PHI_STORAGE_URL)")
        return False
    source = storage_from_url(source_url, settings.data_dir)
    target = storage_from_url(target_url, settings.data_dir)
    if source.describe() == target.describe():
        print(f"the source and the target are both {source.describe()}")
        return False
    check = getattr(target, "check", None)
    if check is not None:
        check()
    print(f"copying document files from {source.describe()} to {target.describe()}")
    with connect(settings.libpq_database_url) as conn:
        report = migrate_files(conn, source, target)
    print(
        f"done: {report.copied} copied and verified, {report.already_there} already there, "
        f"{len(report.missing)} missing, {len(report.mismatched)} not matching their checksum"
    )
    if report.ok:
        print(f"set PHI_STORAGE_URL={target_url} on every API and worker")
    return report.ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="phi-documents", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reembed", help="recompute every chunk's vector with the configured model")
    p.add_argument("--batch-size", type=int, default=256)
    p = sub.add_parser(
        "index-tenants", help="build an HNSW index of their own for organizations with many chunks"
    )
    p.add_argument("--min-chunks", type=int, default=None, help="default: the setting")
    p = sub.add_parser(
        "migrate-storage",
        help="copy every document's file into another store, verified by checksum",
    )
    p.add_argument("--from", dest="source", default=None, help="default: $PHI_DATA_DIR/files")
    p.add_argument("--to", dest="target", default=None, help="default: PHI_STORAGE_URL")
    args = parser.parse_args(argv)
    if args.command == "reembed":
        reembed(args.batch_size)
    elif args.command == "index-tenants":
        index_tenants(args.min_chunks)
    elif args.command == "migrate-storage":
        sys.exit(0 if migrate_storage(args.source, args.target) else 1)
    sys.exit(0)


if __name__ == "__main__":
    main()

"""The ``rag`` command line. Results go to stdout, progress and logs to stderr.

Heavy libraries (chromadb, sentence-transformers, torch) are imported inside the commands,
so ``rag --help`` and input errors answer at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from ingest.errors import InputError, RagError

log = logging.getLogger("rag")


class _Group(click.Group):
    """Turns every user error into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RagError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was kept in the store.", err=True)
            ctx.exit(130)


def _store_help() -> str:
    from rag.settings import default_store_dir

    return f"Chroma store directory [env RAG_STORE; default {default_store_dir()}]."


def store_options(f):
    f = click.option("--chroma-url", envvar="RAG_CHROMA_URL", default=None, metavar="URL",
                     help="Use a Chroma server (`chroma run`) instead of a directory [env RAG_CHROMA_URL].")(f)
    f = click.option("--store", "store", type=click.Path(path_type=Path), default=None, metavar="DIR",
                     help="Chroma store directory [env RAG_STORE; default: a per-user data directory, see `rag --help`].")(f)
    return f


def _settings(store: Path | None, chroma_url: str | None, llm: str | None = None, k: int | None = None):
    from rag.settings import Settings, default_store_dir, llm_from_env

    kwargs = {"store": store or default_store_dir(), "chroma_url": chroma_url, "llm": llm_from_env(llm)}
    if k:
        kwargs["chunks_per_facet"] = k
    return Settings(**kwargs)


def _embedder():
    from ingest.embed import default_embedder

    return default_embedder()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (-vv for debug).")
@click.version_option(package_name="rag-filings")
def main(verbose: int) -> None:
    """Summarize long filings (10-K and the like) with retrieval, offline by default.

    \b
    Typical use:
      rag ingest filing.json            index a filing (text, Markdown, HTML, EDGAR JSON)
      rag summarize filing.json         business-model summary, at most 512 tokens
      rag summarize DOC_ID --json       same, by document id, with evidence chunk ids
      rag docs                          list indexed documents

    Without OPENAI_API_KEY or OPENAI_BASE_URL the summary is written by the embedded
    extractive backend (no language model, no network). With either set, or with
    --llm MODEL[@BASE_URL], an OpenAI-compatible model writes it (OpenAI, vLLM, Ollama,
    llama.cpp server).

    The index lives in a Chroma store: --store DIR, else $RAG_STORE, else a per-user data
    directory; --chroma-url (or $RAG_CHROMA_URL) uses a Chroma server instead.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpx2", "chromadb", "sentence_transformers", "urllib3", "openai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _with_store_location(help_text: str) -> str:
    from rag.settings import default_store_dir

    return help_text + f"\n\nDefault store on this machine: {default_store_dir()}"


main.help = _with_store_location(main.help or "")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per document: id, source, chunks_added, status.")
def ingest(paths: tuple[Path, ...], store: Path | None, chroma_url: str | None, as_json: bool) -> None:
    """Index files into the store. Re-ingesting an unchanged file adds nothing.

    A changed file replaces its previous version (no orphaned chunks are left).
    """
    from ingest.loaders import load_document
    from rag.api import ingest_file, open_store

    loaded = [load_document(p) for p in paths]  # fail fast, before the store is opened or created
    settings = _settings(store, chroma_url)
    db = open_store(settings)
    results = []
    embedder = _embedder()
    for p, doc in zip(paths, loaded):
        result = ingest_file(db, p, embedder, progress=not as_json or sys.stderr.isatty(), doc=doc)
        results.append(result)
        if not as_json:
            click.echo(f"{result.id}\t{result.status}\t{result.chunks_added} chunks added\t{result.source}")
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))


@main.command()
@click.argument("target", metavar="PATH_OR_DOC_ID")
@store_options
@click.option("--max-tokens", type=int, default=None, help="Token ceiling for the summary (cl100k_base) [default: the profile's, 512].")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), default=None,
              help="Profile TOML with the facets and instructions [default: business model; see queries/profiles/].")
@click.option("--llm", "llm", default=None, metavar="MODEL[@BASE_URL]",
              help="Use an OpenAI-compatible model, e.g. gpt-4o-mini or qwen2.5@http://127.0.0.1:8000/v1; 'none' forces the embedded backend.")
@click.option("-k", "--chunks-per-facet", "k", type=click.IntRange(1, 50), default=None, help="Chunks retrieved per facet [default: 16, or 8 with --llm].")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object: summary, tokens, document, facets (chunk ids per facet), sentences.")
def summarize(target: str, store: Path | None, chroma_url: str | None, max_tokens: int | None, profile_path: Path | None,
              llm: str | None, k: int | None, as_json: bool) -> None:
    """Summarize a filing's business model in one continuous text under the token ceiling.

    PATH_OR_DOC_ID is a file (ingested first unless already indexed) or the id of an
    indexed document (see `rag docs`).
    """
    from queries.profile import load_profile
    from rag.tokens import count_tokens

    profile = load_profile(profile_path)
    limit = max_tokens if max_tokens is not None else profile.max_tokens
    floor = sum(count_tokens(f.missing) + 1 for f in profile.facets)
    if limit <= 0:
        raise InputError(f"--max-tokens must be a positive number of tokens, got {limit}; the default is {profile.max_tokens}.")
    if limit < floor:
        raise InputError(f"--max-tokens {limit} is too small for {len(profile.facets)} facets; use at least {floor}.")
    path = Path(target).expanduser()
    looks_like_path = path.exists() or os.sep in target or path.suffix.lower() in {".txt", ".md", ".json", ".html", ".htm"}
    doc = None
    if looks_like_path:
        from ingest.loaders import load_document

        doc = load_document(path)  # a bad file fails here, before the store is touched
    settings = _settings(store, chroma_url, llm, k)
    from rag.api import ingest_file, open_store, resolve_document, summarize_document

    db = open_store(settings, create=looks_like_path)
    record = resolve_document(db, target)
    if record is None:
        if not looks_like_path:
            raise InputError(f"No document with id {target!r} in the store {settings.chroma_url or settings.store}; run `rag docs` to list ids, or pass a file path.")
        result = ingest_file(db, path, _embedder(), progress=True, doc=doc)
        log.warning("indexed %s as %s (%d chunks)", path, result.id, result.chunks)
        record = db.get_document(result.id)
    summary = summarize_document(db, record, profile, settings, _embedder, max_tokens=limit)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        click.echo(summary.text)
    log.info("%d tokens of %d; %s", summary.tokens, limit, summary.timings)


@main.command()
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {id, source, chunks, company, form, fiscal_year}.")
def docs(store: Path | None, chroma_url: str | None, as_json: bool) -> None:
    """List the documents in the store."""
    from rag.api import open_store

    db = open_store(_settings(store, chroma_url), create=False)
    records = db.list_documents() if db is not None else []
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=2))
        return
    if not records:
        click.echo("No documents indexed yet; add one with `rag ingest FILE`.", err=True)
    for r in records:
        meta = " ".join(filter(None, [r.metadata.get("company"), r.metadata.get("form"), r.metadata.get("fiscal_year")]))
        click.echo(f"{r.id}\t{r.chunks} chunks\t{meta}\t{r.source}")


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@store_options
def rm(doc_ids: tuple[str, ...], store: Path | None, chroma_url: str | None) -> None:
    """Remove documents and all their chunks from the store."""
    from rag.api import open_store

    db = open_store(_settings(store, chroma_url), create=False)
    for doc_id in doc_ids:
        if db is None or db.get_document(doc_id) is None:
            raise InputError(f"No document with id {doc_id!r} in the store; run `rag docs` to list ids.")
    for doc_id in doc_ids:
        n = db.delete_document(doc_id)
        click.echo(f"removed {doc_id} ({n} chunks)")


@main.command("eval")
@click.argument("cases", type=click.Path(path_type=Path))
@store_options
@click.option("--llm", "llm", default=None, metavar="MODEL[@BASE_URL]", help="Evaluate the LLM backend instead of the embedded one.")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), default=None, help="Profile TOML [default: business model].")
@click.option("-k", "--chunks-per-facet", "k", type=click.IntRange(1, 50), default=None, help="Chunks retrieved per facet [default: 16, or 8 with --llm].")
@click.option("-v", "--verbose", "show", is_flag=True, help="Also print each summary and the facts it missed.")
@click.option("--json", "as_json", is_flag=True, help="Print per-case results and the overall figures as JSON.")
def eval_cmd(cases: Path, store: Path | None, chroma_url: str | None, llm: str | None, profile_path: Path | None,
             k: int | None, show: bool, as_json: bool) -> None:
    """Run the summarizer over labelled cases (a case file or a directory, e.g. eval/cases).

    Reports fact coverage per facet, unsupported figures and names, tokens against the
    ceiling, continuous text, evidence recall of retrieval and wall time. Filings are
    indexed once in the store and reused on later runs.
    """
    from queries.profile import load_profile
    from rag.api import open_store
    from rag.evaluate import evaluate_case, format_table, load_cases, overall

    loaded = load_cases(cases)
    profile = load_profile(profile_path)
    settings = _settings(store, chroma_url, llm, k)
    db = open_store(settings)
    results = []
    for case in loaded:
        log.warning("evaluating %s", case.name)
        results.append(evaluate_case(case, db, settings, profile, _embedder))
    facets = [f.name for f in profile.facets]
    totals = overall(results, facets)
    if as_json:
        click.echo(json.dumps({"overall": totals, "cases": [r.as_dict() for r in results]}, indent=2))
        return
    click.echo(format_table(results, totals, facets))
    if show:
        for r in results:
            click.echo(f"\n== {r.name} ({r.tokens} tokens)\n{r.summary}")
            for facet, facts in r.missed.items():
                for fact in facts:
                    click.echo(f"  missed {facet}: {fact}")
            for n in r.ungrounded_numbers + r.ungrounded_names:
                click.echo(f"  UNGROUNDED: {n}")


if __name__ == "__main__":  # pragma: no cover
    main()

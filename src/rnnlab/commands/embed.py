"""``rnnlab embed DATA --out DIR``: train a sequence autoencoder, write one embedding each."""

from __future__ import annotations

import argparse

from rnnlab.estimators.cli_options import add_training_options, csv_list, say


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``embed``."""
    parser = sub.add_parser(
        "embed",
        help="train a sequence autoencoder and write one embedding per sequence",
        description="DATA is a long-format CSV (sequence id, time, features; a label column, "
        "if named, is kept aside for evaluation and never used in training). Writes "
        "OUT/embeddings.csv, OUT/reconstruction.csv and the model directory OUT/model.",
    )
    parser.add_argument("data", help="CSV or Parquet file in long format")
    parser.add_argument("--sequence-id", required=True)
    parser.add_argument("--time", required=True)
    parser.add_argument("--label", default=None, help="label column, hidden from training")
    parser.add_argument("--features", type=csv_list, default=None)
    add_training_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fit the embedder and write its outputs atomically."""
    from rnnlab.modelfile import check_output_dir
    from rnnlab.unsupervised import Embedder, write_embeddings

    check_output_dir(args.out)  # refuse a user's folder before training, not after
    embedder = Embedder(
        model=args.model,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        fill=args.fill,
        progress=True,
        sequence_id=args.sequence_id,
        time=args.time,
        label=args.label,
        features=None if args.features is None else tuple(args.features),
    )
    embedder.fit(args.data)
    say(f"wrote {write_embeddings(embedder, args.data, args.out)}")
    return 0

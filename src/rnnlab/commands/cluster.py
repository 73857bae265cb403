"""``rnnlab cluster EMBED_DIR``: cluster autoencoder embeddings, with an HMM baseline."""

from __future__ import annotations

import argparse

from rnnlab.estimators.cli_options import say


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cluster``."""
    parser = sub.add_parser(
        "cluster",
        help="cluster sequence embeddings (kmeans/dbscan) vs an HMM-per-cluster baseline",
        description="EMBED_DIR is the output of `rnnlab embed`. Prints cluster sizes and, when "
        "the data had labels, the adjusted Rand index of each method against them.",
    )
    parser.add_argument("embed_dir", help="directory written by `rnnlab embed`")
    parser.add_argument("--method", choices=["kmeans", "dbscan"], default="kmeans")
    parser.add_argument(
        "--clusters", type=int, default=None, help="kmeans/HMM clusters (default: classes)"
    )
    parser.add_argument("--eps", type=float, default=None, help="dbscan radius (default: auto)")
    parser.add_argument("--min-samples", type=int, default=5, help="dbscan core size")
    parser.add_argument("--no-hmm", action="store_true", help="skip the HMM baseline")
    parser.add_argument(
        "--anomalies",
        type=int,
        nargs="?",
        const=10,
        default=None,
        help="also list the N sequences with the largest reconstruction error (default 10)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="output directory (written on success)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Cluster, print the summary, write assignments atomically."""
    from rnnlab.modelfile import check_output_dir
    from rnnlab.unsupervised import cluster_embed_dir

    check_output_dir(args.out)  # refuse a user's folder before clustering, not after
    result = cluster_embed_dir(
        args.embed_dir,
        method=args.method,
        n_clusters=args.clusters,
        eps=args.eps,
        min_samples=args.min_samples,
        hmm=not args.no_hmm,
        anomalies=args.anomalies,
        seed=args.seed,
    )
    print(result.render())
    say(f"wrote {result.save(args.out)}")
    return 0

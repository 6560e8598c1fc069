"""nosana-node: a node for the Nosana decentralized compute market."""

__version__ = "0.1.0"

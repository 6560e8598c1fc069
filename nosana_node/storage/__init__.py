"""Content-addressed storage: job documents and results by IPFS CIDv0.

- :mod:`~nosana_node.storage.cid`: :class:`Cid` (``Qm…`` text, the 32-byte digest on chain);
- :mod:`~nosana_node.storage.dag`: the CID ``ipfs add`` gives bytes (:func:`cid_of`);
- :mod:`~nosana_node.storage.base`: the :class:`Storage` interface, :func:`save`;
- backends: ``embedded`` (default), ``kubo`` (and the local market's endpoint, ``localnet``),
  ``pinata``, ``gateway`` (read only);
- :func:`open_storage` builds the backend the configuration names.
"""

from __future__ import annotations

from nosana_node.storage.base import Storage, save
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import cid_of
from nosana_node.storage.errors import StorageError
from nosana_node.storage.factory import open_storage

__all__ = ["Cid", "Storage", "StorageError", "cid_of", "open_storage", "save"]

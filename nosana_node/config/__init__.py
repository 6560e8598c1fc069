"""Node configuration: an EDN file with aero's reader tags, environment variables and flags.

- :mod:`~nosana_node.config.edn`: reading EDN and evaluating the tags;
- :mod:`~nosana_node.config.schema`: every setting, typed, with its default and meaning;
- :mod:`~nosana_node.config.kinds`: how values of each kind are read and shown;
- :mod:`~nosana_node.config.load`: precedence (flag > env > file > default) and provenance;
- :mod:`~nosana_node.config.files`: reading private files (mode 600);
- :mod:`~nosana_node.config.options`: the global CLI options (``--config``, ``--profile``, ``--set``).
"""

"""Fleet view: which hosts can migrate to which, under a policy, measured from their own quotes.

Textual-free and cheap to import (this file imports nothing); each module
loads its heavy dependencies on first use. The pieces, in the order data flows
(docs/fleet.md has the formats and the command line):

* :mod:`migtd.fleet.evidence` — one host's evidence file (:class:`Evidence`);
  ``migtd-tool evidence collect`` writes it through
  :mod:`migtd.fleet.engine_adapter`, the one place that calls the engine's
  quote providers.
* :mod:`migtd.fleet.inventory` — hosts from YAML/INI lists or Ansible
  inventories (:func:`load_inventory` → :class:`Inventory` of :class:`Host`).
* :mod:`migtd.fleet.collect` — SSH collection (:func:`collect_hosts`, async;
  :func:`collect_fleet`), with :mod:`migtd.fleet.ssh` (command lines and error
  kinds, no I/O) and :mod:`migtd.fleet.state` (``fleet-state.json``).
* :mod:`migtd.fleet.hosts` — a collection folder as :class:`FleetHost` values.
* :mod:`migtd.fleet.profile` — quote verification, profile keys, projection.
* :mod:`migtd.fleet.matrix` — :func:`build_matrix` → :class:`Matrix`
  (classes, :class:`PairOutcome` per class pair, :class:`Cell` views,
  :meth:`Matrix.explain` for a pair's full rule tables).
* :mod:`migtd.fleet.parallel` — worker processes for large matrices.
* :mod:`migtd.fleet.diff` — :func:`diff_matrices` → :class:`PolicyDiff`.
* :mod:`migtd.fleet.export` — JSON, CSV, Markdown, terminal text.
* :mod:`migtd.fleet.synthetic` — synthetic fleets quoted by a mock QE
  (benchmarks, tests, ``fleet synth``).
"""

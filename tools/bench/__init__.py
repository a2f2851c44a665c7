"""`make bench`: the measured comparison of the StaticSite implementations (and list-pods, watch-pods).

Everything runs in one process against one `local` cluster, one measurement after the other (never two at
once: they would share two cores). A module per measurement:

- ``convergence``: a StaticSite controller converging N sites (create, update, delete), its start-up time,
  its API requests (``audit``), its memory and CPU (``resources``) and its writes on a no-op resync;
- ``floor``: exactly the requests SPEC.md requires (``required``), by a client told what to write, the
  yardstick;
- ``plan``: the blocks of a run (seeded, shuffled order), the cost model, progress, ETA and the budget;
- ``listing``: list-pods over many pods, watch-pods' event latency;
- ``cluster``: the cluster's own figures (cold build, warm start); ``loc``: lines of code;
- ``stats`` and ``samples``: medians and ratios; ``report`` and ``plot``: the outputs.
"""

"""The experiment: one config in, a results Dataset out.

===============  ===============================================================================
``pipeline``     build the network and controller, fit, evaluate, save (target runs)
``recording``    the same for recorded population activity (data preparation, held-out readout,
                 population scores)
``timescale``    ``tau = "auto"``: τ chosen by held-out performance over a grid
``selection``    model selection on a validation trajectory during a fit
``groundtruth``  comparison of a fitted run with the teacher of a ground-truth recording
``demo``         the demo configuration
``sweep``        parameter sweeps on Dask distributed (``brainbias sweep``): one run per grid
                 point, resumable, gathered into one Dataset (``sweep_grid``: the grid and
                 per-point configs; ``sweep_gather``: the gathered Dataset)
===============  ===============================================================================
"""

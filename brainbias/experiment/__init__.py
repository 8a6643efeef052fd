"""The experiment: one config in, a results Dataset out.

===============  ===============================================================================
``pipeline``     build the network and controller, fit, evaluate, save (target runs)
``recording``    the same for recorded population activity (data preparation, held-out readout,
                 population scores)
``timescale``    ``tau = "auto"``: τ chosen by held-out performance over a grid
``selection``    model selection on a validation trajectory during a fit
``groundtruth``  comparison of a fitted run with the teacher of a ground-truth recording
``demo``         the demo configuration
===============  ===============================================================================
"""

"""Model families: the fixed random networks that a tonic-input controller drives.

``rate``          the firing-rate network (continuous leak and discrete forms), its step,
                  simulation and vector field;
``connectivity``  the fixed random weight families it is built from.
"""

"""The fit: what is trainable (the controller) and how it is trained.

``control``  the controller (tonic bias per context; optional readout, initial state, leak) and
             the training modes as partitions of it;
``loop``     target stacking, the BPTT training loop with teacher forcing, the ridge readout
             baseline and checkpoints.
"""

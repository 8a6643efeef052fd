"""The fit: what is trainable (the controller) and how it is trained.

===============  ===============================================================================
``control``      the controller (tonic bias per context; optional readout, initial state, leak)
                 and the training modes as partitions of it
``config``       :class:`TrainingConfig` (re-exported by :mod:`brainbias.config`)
``loop``         :func:`~brainbias.training.loop.fit`, the BPTT training loop (re-exports the
                 names of the modules below, which it runs)
``stacking``     target stacking: all contexts on one padded, masked context axis
``loss``         the window losses and their link (:func:`~brainbias.training.loss.observe`)
``forcing``      the teacher-forcing schedules (annealed, adaptive, sparse)
``chunk``        the optimiser and the compiled training chunk
``readout``      the ridge readout baseline (``mode="readout"``)
``checkpoints``  saving and resuming a fit
``result``       :class:`~brainbias.training.result.TrainResult`
``feedforward``  bias-only (or sign-constrained full) training of a feedforward network
                 (:func:`~brainbias.training.feedforward.fit_feedforward`)
===============  ===============================================================================
"""

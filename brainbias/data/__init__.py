"""Data in: targets and recordings, turned into :class:`~brainbias.data.trajectory.Trajectory`.

==============  ================================================================================
``trajectory``  the container every fit consumes
``targets``     synthetic targets (Lorenz, limit cycles, BrainPy models, …)
``recordings``  spike-train recordings (Neo/NWB reading, trials and conditions, binning)
``scores``      held-out splits and the scores of recorded data (bits/spike, PSTH R², …)
==============  ================================================================================
"""

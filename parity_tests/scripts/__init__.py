"""The scripts: training, lockstep, resume, run folders, MNIST loading, plots and the bench."""

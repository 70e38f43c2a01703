"""scratch.optim and its learning-rate schedulers against torch.optim, and gradient clipping."""

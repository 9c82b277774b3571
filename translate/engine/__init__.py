"""The training engine: Accelerate-driven loop, checkpoints, schedules, logs and samples."""

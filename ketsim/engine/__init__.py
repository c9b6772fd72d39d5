"""Monte Carlo orchestration: tasks, executors, progress, power summaries, sweeps, sample size.

Imports the layers below it.
"""

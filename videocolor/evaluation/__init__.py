"""Measuring colorizations: metrics, baselines and the evaluation protocols."""

"""Regulator oversight: findings against offices, their detection, scorecards and penalty suggestions."""

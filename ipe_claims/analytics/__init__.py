"""Analysts' tools over the `analytics` views: reports and policy simulation."""

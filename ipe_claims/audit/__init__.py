"""Auditors' tools: replay of the read models, claim history, tamper evidence, re-publication."""

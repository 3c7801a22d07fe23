"""Workflows: compose task invocations into chains, groups and chords, run as a DAG in Redis."""

from .handle import WorkflowHandle
from .signature import Chain, Chord, Chunks, Composable, Group, Signature, chain, chord, group

__all__ = ["Chain", "Chord", "Chunks", "Composable", "Group", "Signature", "WorkflowHandle", "chain", "chord",
           "group"]

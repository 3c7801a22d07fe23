"""Workflows: compose task invocations into chains, groups and chords, run as a DAG in Redis."""

from .groups import delete_group, load_group, save_group
from .handle import WorkflowHandle
from .signature import Chain, Chord, Chunks, Composable, Group, Signature, chain, chord, group

__all__ = ["Chain", "Chord", "Chunks", "Composable", "Group", "Signature", "WorkflowHandle", "chain", "chord",
           "delete_group", "group", "load_group", "save_group"]

"""Renaming the keys of published checkpoints on load, so that they load with ``strict=True``.

The authors' checkpoints name their layers after their own module tree (``netExtractor.netOne.0.weight``,
and in files from before 2020 ``moduleExtractor.moduleOne.0.weight``: their loaders replace ``module``
by ``net``). A network registers :func:`rename_hook` with rules from those names to its own; keys that no
rule matches are left alone, so the network's own state dicts load too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

__all__ = ["ORDINALS", "Rule", "rename_hook"]

ORDINALS = {"One": 1, "Two": 2, "Thr": 3, "Fou": 4, "Fiv": 5, "Six": 6}
"""The authors' abbreviated ordinals, as in ``netThr`` (the third level)."""

Rule = tuple[str, Callable[[re.Match[str]], str]]
"""A regular expression matched at the start of a key (below the module's prefix), and the replacement of
the matched part, computed from the match."""


def rename_hook(rules: Sequence[Rule]) -> Callable[..., None]:
    """A load-state-dict pre-hook renaming keys below the module's prefix by the first matching rule.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `rules` | sequence of :data:`Rule` | — | (pattern, replacement) pairs, tried in order after ``module`` → ``net`` |
    """
    compiled = [(re.compile(pattern), replace) for pattern, replace in rules]

    def hook(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        for key in [k for k in state_dict if k.startswith(prefix)]:
            name = key[len(prefix):].replace("module", "net")
            for pattern, replace in compiled:
                match = pattern.match(name)
                if match:
                    name = replace(match) + name[match.end():]
                    break
            if prefix + name != key:
                state_dict[prefix + name] = state_dict.pop(key)

    return hook

"""The code blocks of docs/developers.rst run, in order, in one namespace: the page's family,
sampler and model attack work as the page says."""

import pathlib
import re

import pytest

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "developers.rst"


def _code_blocks(text):
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks


def test_the_page_has_code_blocks():
    assert len(_code_blocks(PAGE.read_text(encoding="utf-8"))) >= 4


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_developers_page_code_runs():
    namespace = {"__name__": "developers_page"}
    for block in _code_blocks(PAGE.read_text(encoding="utf-8")):
        exec(compile(block, str(PAGE), "exec"), namespace)
    model = namespace["model"]
    assert model.score_users([0]).shape == (1, model.n_items_)

"""The offline improver keeps a template's variables exactly, in every style and both languages:
a template improved without a model never ends in variables_changed."""

from __future__ import annotations

import pytest

from adapters.offline import OfflineImprover
from promptcore.domain.catalogue import STYLES
from promptcore.domain.custom_styles import CustomStyle
from promptcore.domain.prompts import ImprovementRequest
from promptcore.domain.quick_templates import QUICK_TEMPLATES
from promptcore.domain.templates import find_variables, variables

CUSTOM = CustomStyle(owner_id=1, title="Mine", description="", instructions="Short and warm.", id=7).as_style()


@pytest.mark.parametrize("style", [*STYLES, CUSTOM], ids=lambda s: s.slug)
@pytest.mark.parametrize("quick", QUICK_TEMPLATES, ids=lambda q: f"{q.key}-{q.language}")
def test_offline_improvement_keeps_exactly_the_variables(quick, style):
    names = tuple(variables(quick.body))
    result = OfflineImprover().improve(ImprovementRequest(prompt=quick.body, style=style, keep_variables=names))
    assert set(find_variables(result.text)) == set(names)
    assert quick.body in result.text  # the offline improver keeps the original intact


def test_a_template_without_variables_gets_none():
    result = OfflineImprover().improve(ImprovementRequest(prompt="Write a haiku about autumn rain.",
                                                          style=STYLES[0], keep_variables=()))
    assert find_variables(result.text) == []

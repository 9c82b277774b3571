"""Generated documentation: ``translate docs recipes`` prints ``docs/recipes.md``.

Everything that describes the schema is read from the code itself: the recipe
skeleton from the pydantic models in :mod:`translate.recipe`, the components and
their options from the registry of the *built-in* plugins (third-party plugins
installed in the environment are left out, so the page is the same on every
machine), the ``--set`` examples from :func:`translate.recipe.parse_override`, and the
error examples from :func:`translate.recipe.check.check_recipe` on bad recipes.
``tests/test_docs.py`` checks that ``docs/recipes.md`` equals :func:`recipes_markdown`.

- :mod:`.builtin`: the built-in plugins' registry and :func:`run_check`;
- :mod:`.examples`: the example recipes and tables on the page;
- :mod:`.schema_tables`: field tables (types, defaults, limits, rules) of pydantic models;
- :mod:`.recipes_page`: the page itself;
- :mod:`.installed`: every installed plugin's components and options (``translate plugins --options``,
  and the third-party section ``translate docs recipes --plugins`` adds).
"""

from __future__ import annotations

from ...utils.markdown import md_text
from .builtin import builtin_components, builtin_plugins, builtin_registry, run_check
from .examples import (
    BAD_COMPONENTS,
    BAD_SKELETON,
    EXAMPLE_RECIPE,
    EXTENDS_EXAMPLE,
    SET_EXAMPLES,
)
from .installed import (
    option_rows,
    plugins_text,
    plugins_with_options,
    third_party_markdown,
)
from .recipes_page import REGENERATE, recipes_markdown

__all__ = [
    "BAD_COMPONENTS",
    "BAD_SKELETON",
    "EXAMPLE_RECIPE",
    "EXTENDS_EXAMPLE",
    "REGENERATE",
    "SET_EXAMPLES",
    "builtin_components",
    "builtin_plugins",
    "builtin_registry",
    "md_text",
    "option_rows",
    "plugins_text",
    "plugins_with_options",
    "recipes_markdown",
    "run_check",
    "third_party_markdown",
]

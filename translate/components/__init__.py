"""The contracts of the component kinds the engine drives, and building components from a recipe.

- :mod:`~translate.components.method`: the training-method contract (:class:`Method`,
  :class:`StepContext`, :class:`ExportSpec`);
- :mod:`~translate.components.losses`: the adversarial-loss contract;
- :mod:`~translate.components.metric`: the metric contract (:class:`Metric`, :class:`EvalBatch`);
- :mod:`~translate.components.build`: building a method and its networks and losses from a recipe.

Plugins see these names through :mod:`translate.api`. May import :mod:`translate.plugin`,
:mod:`translate.recipe`, :mod:`translate.data` and :mod:`translate.nn`.
"""

"""The sample shop: ``ShoppingWorkflow`` and ``OrderWorkflow``, their activities and models.

A demonstration of what the gateway serves (the shipped ``shopping`` and ``orders`` routes),
not part of the gateway itself: the product's own workflow is
:mod:`gateway_workflows.callbacks`, and the two import nothing from each other (an
import-linter contract). One folder per workflow family, as ``temporalio/samples-python`` lays
them out: ``workflows.py`` (sandboxed, replayed), ``activities.py`` (side effects) and
``models.py`` (their inputs and results).
"""

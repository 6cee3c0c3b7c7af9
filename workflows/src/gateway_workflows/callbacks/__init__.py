"""Completion webhooks: the ``CallbackDelivery`` workflow and its activities, hosted by the
worker on the gateway's own task queue (``gateway_core.callbacks.DEFAULT_TASK_QUEUE``)."""
